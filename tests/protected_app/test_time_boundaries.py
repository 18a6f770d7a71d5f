"""/dump's verdict on a token's times in jwks mode (no leeway), exact to the second.

The verifier reads the wall clock, so time-machine stops it at ``T``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import time_machine

from protected_app.settings import Settings, VerifyMode
from tests.protected_app.helpers import AUDIENCE, ISSUER, JwksServer, ServeDump, claims
from wiflab_core.keys import SigningKey

T = 1_800_000_000  # 2027-01-15T08:00:00Z


@pytest.fixture
def dump_url(serve_dump: ServeDump, jwks: JwksServer) -> str:
    return serve_dump(Settings(VerifyMode.JWKS, (AUDIENCE,), (ISSUER,), jwks.url))


@pytest.fixture
def at_t() -> Iterator[None]:
    with time_machine.travel(T, tick=False):
        yield


def identity(url: str, key: SigningKey, iat: int, exp: int) -> dict[str, Any]:
    token = key.sign(claims(iat=iat, exp=exp))
    response = requests.get(url + "/dump", headers={"Authorization": f"Bearer {token}"})
    return response.json()["identity"]


def test_verified_until_the_last_second(dump_url, rsa_key, at_t):
    assert identity(dump_url, rsa_key, iat=T - 3600, exp=T + 1)["verified"] is True


def test_expired_at_exp(dump_url, rsa_key, at_t):
    found = identity(dump_url, rsa_key, iat=T - 3600, exp=T)
    assert (found["verified"], found["error"]) == (
        False,
        f"expired: exp {T} is not after now ({T})",
    )


def test_verified_when_issued_this_second(dump_url, rsa_key, at_t):
    assert identity(dump_url, rsa_key, iat=T, exp=T + 3600)["verified"] is True


def test_not_yet_valid_when_issued_a_second_ahead(dump_url, rsa_key, at_t):
    found = identity(dump_url, rsa_key, iat=T + 1, exp=T + 3600)
    assert (found["verified"], found["error"]) == (
        False,
        f"not yet valid: iat {T + 1} is after now ({T})",
    )
