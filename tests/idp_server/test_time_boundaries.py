"""The IdP's times, exact to the second: time-machine stops the clock at ``T`` for each mint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import time_machine
from flask.testing import FlaskClient

from idp_server.app import create_app
from idp_server.settings import IdpSettings

T = 1_800_000_000  # 2027-01-15T08:00:00Z
CLAIMS = {"sub": "alice@domain.com", "aud": "aud-1"}
JSON = {"Accept": "application/json"}


@pytest.fixture(autouse=True)
def at_t() -> Iterator[None]:
    with time_machine.travel(T, tick=False):
        yield


def mint(client: FlaskClient, claims: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The minted token's claims and the answer's expires_in."""
    response = client.post("/token", json=claims, headers=JSON)
    assert response.status_code == 200, response.text
    body = response.get_json()
    assert isinstance(body, dict), response.text
    return jwt.decode(body["id_token"], options={"verify_signature": False}), body["expires_in"]


def test_minted_now_for_the_default_ttl(client: FlaskClient) -> None:
    claims, expires_in = mint(client, CLAIMS)
    assert (claims["iat"], claims["exp"], expires_in) == (T, T + 3600, 3600)


def test_ttl_setting_sets_exp() -> None:
    client = create_app(IdpSettings(issuer="https://idp.example", token_ttl=600)).test_client()
    claims, expires_in = mint(client, CLAIMS)
    assert (claims["iat"], claims["exp"], expires_in) == (T, T + 600, 600)


@pytest.mark.parametrize(("exp", "expires_in"), [(T + 1, 1), (T, 0), (T - 100, 0)])
def test_expires_in_counts_from_now_and_never_below_zero(
    client: FlaskClient, exp: int, expires_in: int
) -> None:
    claims, answered = mint(client, {**CLAIMS, "iat": T - 3600, "exp": exp})
    assert (claims["exp"], answered) == (exp, expires_in)


def test_lifetime_from_now_up_to_the_maximum(client: FlaskClient) -> None:
    claims, _ = mint(client, {**CLAIMS, "exp": T + 86400})
    assert claims["iat"] == T


def test_lifetime_from_now_beyond_the_maximum(client: FlaskClient) -> None:
    response = client.post("/token", json={**CLAIMS, "exp": T + 86401})
    assert (response.status_code, response.json) == (
        400,
        {
            "error": "invalid_request",
            "error_description": (
                "exp: the lifetime exp - iat = 86401 s exceeds the maximum 86400 s "
                "(IDP_MAX_LIFETIME)"
            ),
        },
    )


def test_profile_tokens_are_minted_now() -> None:
    settings = IdpSettings(issuer="https://idp.example", profiles={"ci": dict(CLAIMS)})
    body = create_app(settings).test_client().get("/token/ci").get_json()
    assert isinstance(body, dict)
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert (claims["iat"], claims["exp"], body["expires_in"]) == (T, T + 3600, 3600)
