"""IAM Credentials, tokeninfo and allowedLocations as the official clients meet them (issue 11).

Disabled accounts and pools are changed at run time with the plugin's wif_topology (undone
afterwards): a disabled service account gets nothing from IAM Credentials, the metadata server
or Cloud Run's front end; a pool disabled after the exchange refuses its federated tokens while
a disabled provider only stops new exchanges. Texts are Google's literal ones where captured;
the rest is the stand-in's unverified choice (README fidelity table).
"""

from __future__ import annotations

import logging

import pytest
import requests
from google.api_core.exceptions import BadRequest
from google.auth import impersonated_credentials
from google.auth.exceptions import OAuthError
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import _client as oauth2_client

from e2e.names import CLOUD_PLATFORM, FEDERATED_SA, LAB_PROVIDER, SERVICE, WORKLOAD_SA

LAB_POOL = "oidc-pool-run"
EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"
INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
FLAVOR = {"Metadata-Flavor": "Google"}


def disabled(document: dict, *, account: str | None = None, pool: str | None = None) -> dict:
    if account is not None:
        next(sa for sa in document["serviceAccounts"] if sa["email"] == account)["disabled"] = True
    if pool is not None:
        next(p for p in document["pools"] if p["id"] == pool)["disabled"] = True
    return document


def federated_token(external_account_credentials, profile: str = "alice") -> str:
    credentials = external_account_credentials(LAB_PROVIDER, profile=profile)
    credentials.refresh(Request())
    return credentials.token


def generate_id_token_raw(wif_stack, token: str, account: str) -> requests.Response:
    base = wif_stack.endpoints.iamcredentials.api_endpoint.rstrip("/")
    return requests.post(
        f"{base}/v1/projects/-/serviceAccounts/{wif_stack.account(account)}:generateIdToken",
        json={"audience": "https://a.wiflab.test"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


@pytest.mark.wif_requires(metadata=True)
def test_a_service_account_disabled_at_run_time_can_not_be_used_anywhere(
    wif_stack, wif_topology, external_account_credentials
):
    alice = external_account_credentials(LAB_PROVIDER, profile="alice")
    client = wif_stack.iam_client(alice)
    url = wif_stack.service_url(SERVICE)
    workload, federated = wif_stack.account(WORKLOAD_SA), wif_stack.account(FEDERATED_SA)
    metadata = f"http://{wif_stack.endpoints.require_metadata().host}/computeMetadata/v1"
    token_url = f"{metadata}/instance/service-accounts/default/token"
    identity = requests.get(
        f"{metadata}/instance/service-accounts/default/identity",
        params={"audience": url},
        headers=FLAVOR,
        timeout=10,
    ).text
    service = {"Authorization": f"Bearer {identity}"}
    assert requests.get(f"{url}/dump", headers=service, timeout=10).status_code == 200
    assert requests.get(token_url, headers=FLAVOR, timeout=10).status_code == 200

    document = disabled(wif_topology.document(), account=federated)
    disabled(document, account=workload)
    with wif_topology.applied(document):
        # IAM Credentials, through google-cloud-iam (unverified: status and text).
        with pytest.raises(BadRequest, match=r"Precondition check failed\."):
            client.generate_id_token(
                name=f"projects/-/serviceAccounts/{federated}", audience="https://a.wiflab.test"
            )
        # The metadata server hands out none of its tokens.
        refused = requests.get(token_url, headers=FLAVOR, timeout=10)
        assert (refused.status_code, refused.text) == (
            403,
            f"The service account {workload} is disabled.",
        )
        # Cloud Run refuses the ID token it minted before: the 403 page.
        page = requests.get(f"{url}/dump", headers=service, timeout=10)
        assert page.status_code == 403
        assert "Your client does not have permission to get URL <code>/dump</code>" in page.text

    assert requests.get(f"{url}/dump", headers=service, timeout=10).status_code == 200


def test_a_pool_disabled_after_the_exchange_refuses_its_tokens_a_provider_does_not(
    wif_stack, wif_topology, external_account_credentials
):
    token = federated_token(external_account_credentials)
    assert generate_id_token_raw(wif_stack, token, FEDERATED_SA).status_code == 200

    with wif_topology.applied(disabled(wif_topology.document(), pool=LAB_POOL)):
        refused = generate_id_token_raw(wif_stack, token, FEDERATED_SA)
        error = refused.json()["error"]
        assert (refused.status_code, error["status"], error["message"]) == (
            401,
            "UNAUTHENTICATED",
            INVALID_CREDENTIALS,
        )

    document = wif_topology.document()
    pool = next(p for p in document["pools"] if p["id"] == LAB_POOL)
    pool["providers"][0]["disabled"] = True
    with wif_topology.applied(document):
        assert generate_id_token_raw(wif_stack, token, FEDERATED_SA).status_code == 200
        with pytest.raises(OAuthError, match="invalid_target"):
            external_account_credentials(LAB_PROVIDER, profile="alice").refresh(Request())


def impersonated(wif_stack, external_account_credentials, scopes: list[str]):
    source = external_account_credentials(LAB_PROVIDER, profile="alice")
    base = wif_stack.endpoints.iamcredentials.api_endpoint.rstrip("/")
    account = wif_stack.account(FEDERATED_SA)
    return impersonated_credentials.Credentials(
        source_credentials=source,
        target_principal=account,
        target_scopes=scopes,
        iam_endpoint_override=(
            f"{base}/v1/projects/-/serviceAccounts/{account}:generateAccessToken"
        ),
    )


@pytest.mark.wif_requires(in_process=True)
def test_tokeninfo_shows_the_email_only_with_the_email_scope(
    wif_stack, external_account_credentials
):
    tokeninfo = wif_stack.endpoints.google_issuer.tokeninfo
    account = wif_stack.account(FEDERATED_SA)
    for scopes, email in (([CLOUD_PLATFORM], None), ([CLOUD_PLATFORM, EMAIL_SCOPE], account)):
        credentials = impersonated(wif_stack, external_account_credentials, scopes)
        credentials.refresh(Request())
        info = requests.get(tokeninfo, params={"access_token": credentials.token}, timeout=10)
        assert info.status_code == 200
        assert info.json().get("email") == email
        assert set(info.json()) >= {"azp", "aud", "scope", "exp", "expires_in", "access_type"}


@pytest.mark.wif_requires(in_process=True)
def test_google_auths_regional_access_boundary_lookup_finds_the_method(
    wif_stack, external_account_credentials, caplog
):
    credentials = impersonated(wif_stack, external_account_credentials, [CLOUD_PLATFORM])
    credentials.refresh(Request())
    base = wif_stack.endpoints.iamcredentials.api_endpoint.rstrip("/")
    url = f"{base}/v1/projects/-/serviceAccounts/{wif_stack.account(FEDERATED_SA)}/allowedLocations"
    with caplog.at_level(logging.DEBUG, logger="google"):
        found = oauth2_client._lookup_regional_access_boundary(
            Request(), url, headers={"Authorization": f"Bearer {credentials.token}"}
        )
    assert found is not None and "encodedLocations" in found
    assert "failed" not in caplog.text
    # An AuthorizedSession with these credentials works as before.
    assert AuthorizedSession(credentials).get(url, timeout=10).status_code == 200
