"""/dump under hostile tokens and bodies: always an answer, never a 5xx or a traceback."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protected_app.settings import Settings


def token_with_payload(payload: str) -> str:
    def segment(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    header = segment(json.dumps({"alg": "RS256", "kid": "k"}).encode())
    return f"{header}.{segment(payload.encode())}.SIGNATURE_REMOVED_BY_GOOGLE"


@pytest.fixture(scope="module")
def dump(running_servers) -> str:
    from protected_app.app import create_app
    from wiflab_core.serving import ThreadedServer

    server = ThreadedServer(create_app(Settings.from_env({"K_SERVICE": "dump"}))).start()
    running_servers.append(server)
    return server.url


def identity_for(url: str, token: str) -> dict:
    response = requests.get(url + "/dump", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text[:300]
    return response.json()["identity"]


@pytest.mark.parametrize("levels", [65, 2_472, 20_000])
def test_a_token_payload_nested_deep_is_malformed_not_a_500(dump: str, levels: int) -> None:
    payload = '{"sub": "a", "x": ' + "[" * levels + "]" * levels + "}"
    identity = identity_for(dump, token_with_payload(payload))
    assert identity["verified"] is False
    assert identity["error"] == "malformed: payload: nested more than 64 levels deep"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ('{"sub": "a", "exp": NaN}', "malformed: claims.exp: nan is not a JSON number"),
        ('{"sub": "a", "exp": 1e400}', "malformed: claims.exp: inf is not a JSON number"),
        ('{"sub": "\\ud800"}', "malformed: claims.sub: contains a lone UTF-16 surrogate (\\ud800)"),
    ],
)
def test_claims_no_json_parser_round_trips_are_malformed(
    dump: str, payload: str, error: str
) -> None:
    identity = identity_for(dump, token_with_payload(payload))
    assert identity["verified"] is False and identity["error"].startswith(error), identity
    # The answer is JSON every parser reads: no NaN, no lone surrogate in it.
    assert identity["claims"] is None


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.text(alphabet='[]{}"\\:,NaInfity0123e.- ud8sb', max_size=200),
    body=st.binary(max_size=200),
)
def test_raw_tokens_and_bodies_never_5xx(dump: str, payload: str, body: bytes) -> None:
    response = requests.post(
        dump + "/dump",
        data=body,
        headers={"Authorization": f"Bearer {token_with_payload(payload)}"},
    )
    assert response.status_code == 200, response.text[:300]
    assert "Traceback" not in response.text
    json.loads(response.text)  # the answer is JSON
