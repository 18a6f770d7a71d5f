"""Seed 000: a multi-tenant issuer signs every tenant's tokens, so the pool is pinned to one
tenant by an attribute condition on the org-id claim, and the service account's binding is
scoped to that tenant with principalSet://.../attribute.org_id/VALUE."""

from __future__ import annotations

import pytest
from google.auth.exceptions import OAuthError, RefreshError
from google.auth.transport.requests import Request

from e2e.chain import OWNER_SCOPES, google_error, token_owner
from e2e.names import FEDERATED_SA, TENANT_PROVIDER, TENANT_SA


def test_the_tenants_token_impersonates_the_tenants_account(
    wif_stack, external_account_credentials
):
    credentials = external_account_credentials(
        TENANT_PROVIDER, service_account=TENANT_SA, profile="acme-project", scopes=OWNER_SCOPES
    )
    credentials.refresh(Request())

    assert token_owner(wif_stack, credentials.token) == wif_stack.account(TENANT_SA)


def test_another_tenants_token_is_refused_with_googles_error(external_account_credentials):
    """Same issuer, same signature, another org_id: STS refuses the exchange itself."""
    credentials = external_account_credentials(
        TENANT_PROVIDER, service_account=TENANT_SA, profile="other-tenant"
    )
    with pytest.raises(OAuthError) as refused:
        credentials.refresh(Request())

    assert google_error(refused.value) == {
        "error": "unauthorized_client",
        "error_description": "The given credential is rejected by the attribute condition.",
    }


def test_a_forged_org_id_is_refused_too(external_account_credentials):
    """The condition reads the claim, not the subject: a subject that looks like acme's does
    not help a token whose org_id is another tenant's."""
    credentials = external_account_credentials(
        TENANT_PROVIDER, profile="other-tenant", sub="tenant:project:ws-1234"
    )
    with pytest.raises(OAuthError, match="unauthorized_client"):
        credentials.refresh(Request())


def test_the_tenant_binding_reaches_only_the_tenants_account(external_account_credentials):
    """acme's identities pass STS but hold nothing on the lab pool's account."""
    credentials = external_account_credentials(
        TENANT_PROVIDER, service_account=FEDERATED_SA, profile="acme-project"
    )
    with pytest.raises(RefreshError) as refused:
        credentials.refresh(Request())

    assert google_error(refused.value)["error"]["status"] == "PERMISSION_DENIED"
