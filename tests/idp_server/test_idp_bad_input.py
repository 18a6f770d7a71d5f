"""Every bad input gets a 4xx JSON error naming the field; arbitrary input never a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp_server.app import create_app
from idp_server.minting import MAX_BODY_BYTES
from idp_server.settings import IdpSettings
from tests.idp_server.helpers import Idp, error_of
from wiflab_core.serving import ThreadedServer


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", "body"),
        (b"   ", "body"),
        (b"{not json", "body"),
        (b"\xff\xfe\x00", "body"),
        (b'{"exp": NaN}', "body"),
        (b"[" * 50_000, "body"),
        (b'["sub", "alice"]', "body"),
        (b'"alice"', "body"),
        (b"null", "body"),
        (b'{"iat": 1.5}', "iat"),
        (b'{"iat": "1700000000"}', "iat"),
        (b'{"exp": true}', "exp"),
        (b'{"exp": null}', "exp"),
        (b'{"nbf": [1]}', "nbf"),
        (b'{"iss": 42}', "iss"),
    ],
)
def test_bad_body_is_a_400_naming_the_field(idp: Idp, body: bytes, field: str) -> None:
    status, error, description = error_of(idp.post_token(body))
    assert (status, error) == (400, "invalid_request")
    assert description.startswith(f"{field}:"), description


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"alg": "HS256"}, "alg", "unsupported"),
        ({"alg": "none"}, "alg", "unsupported"),
        ({"alg": ""}, "alg", "unsupported"),
        ({"kid": "no-such-kid"}, "kid", "not a key of this IdP"),
    ],
)
def test_unknown_alg_or_kid_is_a_400(
    idp: Idp, params: dict[str, str], field: str, words: str
) -> None:
    status, _, description = error_of(idp.post_token({"sub": "a"}, **params))
    assert status == 400 and description.startswith(f"{field}:") and words in description


def test_alg_that_does_not_match_the_kid_is_a_400(idp: Idp) -> None:
    es_kid = next(k["kid"] for k in idp.jwks()["keys"] if k["alg"] == "ES256")
    status, _, description = error_of(idp.post_token({"sub": "a"}, alg="RS256", kid=es_kid))
    assert status == 400 and description.startswith("alg:")


def test_body_over_64_kib_is_a_413_and_64_kib_is_read(idp: Idp) -> None:
    filler = "x" * (MAX_BODY_BYTES - len('{"sub": "a", "pad": ""}'))
    exact = json.dumps({"sub": "a", "pad": filler}).encode()
    assert len(exact) == MAX_BODY_BYTES
    assert idp.post_token(exact).status_code == 200
    status, error, description = error_of(idp.post_token(exact + b" "))
    assert (status, error) == (413, "request_too_large") and description.startswith("body:")


def test_chunked_body_over_the_limit_is_a_413(idp: Idp) -> None:
    chunks = iter([b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}'])
    status, _, _ = error_of(idp.session.post(f"{idp.url}/token", data=chunks))
    assert status == 413


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_wrong_method_is_a_405_with_allow(idp: Idp, method: str) -> None:
    response = idp.session.request(method, f"{idp.url}/token")
    status, _, description = error_of(response)
    assert status == 405 and description.startswith("method:")
    assert response.headers["Allow"] == "POST"


def test_unknown_path_and_wrong_method_elsewhere_are_json(idp: Idp) -> None:
    assert error_of(idp.session.get(f"{idp.url}/nothing"))[:2] == (404, "not_found")
    assert error_of(idp.session.post(f"{idp.url}/certs"))[0] == 405


@pytest.fixture(scope="module")
def fuzz_idp() -> Iterator[Idp]:
    server = ThreadedServer()
    server.app = create_app(
        IdpSettings(issuer=server.url, profiles={"p": {"sub": "p", "aud": "a"}})
    )
    with server:
        yield Idp(server.url)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
claim_objects = st.dictionaries(
    st.sampled_from(["iss", "iat", "exp", "nbf", "jti", "sub", "aud"]) | st.text(max_size=8),
    json_values,
    max_size=6,
)
bodies = (
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | claim_objects.map(lambda v: json.dumps(v).encode())
)
params = st.dictionaries(
    st.sampled_from(["alg", "kid", "aud"]) | st.text(max_size=5),
    st.sampled_from(["RS256", "ES256", ""]) | st.text(max_size=10),
    max_size=3,
)


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=bodies, query=params, accept=st.sampled_from([None, "application/json", "*/*"]))
def test_arbitrary_bodies_and_parameters_never_get_a_5xx(
    fuzz_idp: Idp, body: bytes, query: dict[str, str], accept: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = fuzz_idp.post_token(body, headers=headers, **query)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error_of(response)
    profile = fuzz_idp.session.get(f"{fuzz_idp.url}/token/p", params=query)
    assert profile.status_code < 500, profile.text
