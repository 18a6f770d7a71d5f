"""Where google-auth reads the subject token from: a file, a URL (json format), an executable
(allowed by GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1). Each completes both flows."""

from __future__ import annotations

import jwt
import pytest
from google.auth.transport.requests import Request

from e2e.chain import OWNER_SCOPES, token_owner
from e2e.names import FEDERATED_SA, LAB_PROVIDER, TARGET_SA

SOURCES = ["file", "url", "executable"]


@pytest.mark.parametrize("source", SOURCES)
def test_source_feeds_the_impersonated_flow(wif_stack, external_account_credentials, source):
    credentials = external_account_credentials(
        LAB_PROVIDER, source, service_account=FEDERATED_SA, profile="alice", scopes=OWNER_SCOPES
    )
    credentials.refresh(Request())

    assert token_owner(wif_stack, credentials.token) == wif_stack.account(FEDERATED_SA)


@pytest.mark.parametrize("source", SOURCES)
def test_source_feeds_direct_federation(wif_stack, external_account_credentials, source):
    credentials = external_account_credentials(LAB_PROVIDER, source, profile="alice")
    account = wif_stack.account(TARGET_SA)
    signed = wif_stack.iam_client(credentials).sign_jwt(
        name=f"projects/-/serviceAccounts/{account}", payload='{"sub": "seed-004"}'
    )
    assert signed.key_id
    assert signed.signed_jwt.count(".") == 2


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_both_documented_algorithms_are_accepted(
    wif_stack, external_account_credentials, mint_token, alg
):
    """The IdP publishes an RS256 and an ES256 key; STS verifies tokens signed with either."""
    token = mint_token("alice", provider=LAB_PROVIDER, alg=alg)
    assert jwt.get_unverified_header(token)["alg"] == alg
    credentials = external_account_credentials(
        LAB_PROVIDER, service_account=FEDERATED_SA, subject_token=token, scopes=OWNER_SCOPES
    )
    credentials.refresh(Request())

    assert token_owner(wif_stack, credentials.token) == wif_stack.account(FEDERATED_SA)
