"""Seed 004: the impersonated flow (service_account_impersonation_url -> generateAccessToken)
and the federated flow (the federated principal used directly on a resource), through each kind
of binding: principal:// subject, principalSet:// group (google.groups), attribute, pool-wide."""

from __future__ import annotations

import re

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from google.api_core.exceptions import Forbidden
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request

from e2e.chain import OWNER_SCOPES, google_error, token_owner
from e2e.lab_topology import POOL_WIDE_ACCOUNT
from e2e.names import FEDERATED_SA, LAB_PROVIDER, TARGET_SA, TENANT_PROVIDER, TENANT_SA


def name_of(wif_stack, account: str) -> str:
    return f"projects/-/serviceAccounts/{wif_stack.account(account)}"


def denied(permission: str) -> str:
    return re.escape(f"Permission '{permission}' denied on resource")


@pytest.mark.parametrize(
    "profile",
    [
        pytest.param("alice", id="principal-subject-alice"),
        pytest.param("carol", id="principalset-group1-carol"),
    ],
)
def test_impersonated_flow_yields_the_service_accounts_token(
    wif_stack, external_account_credentials, profile
):
    credentials = external_account_credentials(
        LAB_PROVIDER, service_account=FEDERATED_SA, profile=profile, scopes=OWNER_SCOPES
    )
    credentials.refresh(Request())

    assert token_owner(wif_stack, credentials.token) == wif_stack.account(FEDERATED_SA)


def test_group_binding_excludes_those_outside_the_group(wif_stack, external_account_credentials):
    """dave passes STS (an admin) but is only in group2: Google refuses generateAccessToken."""
    credentials = external_account_credentials(
        LAB_PROVIDER, service_account=FEDERATED_SA, profile="dave"
    )
    with pytest.raises(RefreshError) as refused:
        credentials.refresh(Request())

    # google-auth's error carries Google's answer as its second argument.
    error = google_error(refused.value)["error"]
    assert (error["code"], error["status"]) == (403, "PERMISSION_DENIED")
    assert error["message"] == (
        "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."
    )


def test_federated_principal_signs_as_the_account_it_is_bound_to(
    wif_stack, external_account_credentials
):
    """Direct federation: alice's federated token, no service account of her own, calls
    signBlob on an account whose policy names her principal:// (Token Creator). The signature
    verifies with the account's public certificate, published where Google publishes it."""
    client = wif_stack.iam_client(external_account_credentials(LAB_PROVIDER, profile="alice"))
    account = wif_stack.account(TARGET_SA)
    signed = client.sign_blob(name=name_of(wif_stack, TARGET_SA), payload=b"seed 004")

    googleapis = wif_stack.endpoints.google_issuer.certs_v1.removesuffix("/oauth2/v1/certs")
    certs = requests.get(f"{googleapis}/service_accounts/v1/metadata/x509/{account}", timeout=10)
    certificate = x509.load_pem_x509_certificate(certs.json()[signed.key_id].encode())
    certificate.public_key().verify(
        signed.signed_blob, b"seed 004", padding.PKCS1v15(), hashes.SHA256()
    )


def test_group_binding_grants_only_its_roles_permissions(wif_stack, external_account_credentials):
    """carol's group1 holds OpenID Token Creator on the account: ID tokens yes, signBlob no."""
    client = wif_stack.iam_client(external_account_credentials(LAB_PROVIDER, profile="carol"))
    name = name_of(wif_stack, TARGET_SA)

    token = client.generate_id_token(name=name, audience="https://a.wiflab.test").token
    assert token.count(".") == 2
    with pytest.raises(Forbidden, match=denied("iam.serviceAccounts.signBlob")):
        client.sign_blob(name=name, payload=b"seed 004")


def test_attribute_binding_admits_any_subject_with_the_attribute(
    wif_stack, external_account_credentials
):
    """bigquery-runner trusts principalSet://.../attribute.org_id/org-acme, not a subject:
    a user of the tenant the binding never named impersonates it too."""
    credentials = external_account_credentials(
        TENANT_PROVIDER,
        service_account=TENANT_SA,
        profile="acme-project",
        sub="tenant:user:u-77",
        owner_type="user",
        scopes=OWNER_SCOPES,
    )
    credentials.refresh(Request())

    assert token_owner(wif_stack, credentials.token) == wif_stack.account(TENANT_SA)


@pytest.mark.wif_requires(accounts=[POOL_WIDE_ACCOUNT])
@pytest.mark.parametrize("profile", ["alice", "carol", "dave"])
def test_pool_wide_binding_admits_every_identity_of_the_pool(
    wif_stack, external_account_credentials, profile
):
    """principalSet://.../oidc-pool-run/* holds OpenID Token Creator: whoever the pool admits."""
    client = wif_stack.iam_client(external_account_credentials(LAB_PROVIDER, profile=profile))
    token = client.generate_id_token(
        name=name_of(wif_stack, POOL_WIDE_ACCOUNT), audience="https://a.wiflab.test"
    ).token
    assert token.count(".") == 2


@pytest.mark.wif_requires(accounts=[POOL_WIDE_ACCOUNT])
def test_pool_wide_binding_stops_at_the_pool(wif_stack, external_account_credentials):
    client = wif_stack.iam_client(
        external_account_credentials(TENANT_PROVIDER, profile="acme-project")
    )
    with pytest.raises(Forbidden, match=denied("iam.serviceAccounts.getOpenIdToken")):
        client.generate_id_token(
            name=name_of(wif_stack, POOL_WIDE_ACCOUNT), audience="https://a.wiflab.test"
        )
