"""Key rotation at the IdP while the suite runs.

STS caches an issuer's JWKS and fetches it again only for a kid it does not know (or once its
cache lifetime passes). So a new signing key verifies at once: its unknown kid makes STS
refetch. A retired key's tokens are refused once STS has refetched after the retirement; here
the next new key's first token causes that refetch. (Google's cache lifetime is unpublished:
against Google, a retired key may keep verifying until its cache expires.)
"""

from __future__ import annotations

import jwt
import pytest
from google.auth.transport.requests import Request

from e2e.chain import Refusal
from e2e.names import LAB_PROVIDER


@pytest.fixture
def idp_keys(wif_stack):
    """The IdP's admin client; afterwards the original signer is active again and the keys the
    test added are retired, so the rest of the session signs as before."""
    idp = wif_stack.idp
    before = {key["kid"]: key["status"] for key in idp.list_keys()}
    yield idp
    original = next(kid for kid, status in before.items() if status == "active")
    idp.activate_key(original)
    for key in idp.list_keys():
        if key["kid"] not in before and key["status"] != "retired":
            idp.retire_key(key["kid"])


def exchanged(external_account_credentials, token: str) -> str:
    credentials = external_account_credentials(LAB_PROVIDER, subject_token=token)
    credentials.refresh(Request())
    return credentials.token


@pytest.mark.wif_requires(idp_admin=True)
def test_new_key_verifies_and_retired_key_is_refused(
    idp_keys, mint_token, external_account_credentials, chain
):
    # STS fetches and caches the current JWKS.
    assert exchanged(external_account_credentials, mint_token("alice"))

    new_kid = idp_keys.add_key("ES256", "active")["added"]["kid"]
    signed_by_new = mint_token("alice")
    assert jwt.get_unverified_header(signed_by_new)["kid"] == new_kid
    assert exchanged(external_account_credentials, signed_by_new)

    next_kid = idp_keys.add_key("RS256", "active")["added"]["kid"]
    idp_keys.retire_key(new_kid)
    signed_by_next = mint_token("alice")
    assert jwt.get_unverified_header(signed_by_next)["kid"] == next_kid
    assert exchanged(external_account_credentials, signed_by_next)

    assert chain.refused_exchange(signed_by_new, LAB_PROVIDER) == Refusal(
        400,
        "invalid_grant",
        "Error connecting to the given credential's issuer.",
    )
