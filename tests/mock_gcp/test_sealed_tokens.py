"""Tokens any instance can verify: two Google sides that share one key file accept each
other's tokens, keys and certificates; a token from elsewhere, tampered or truncated is an
unknown token in Google's words; rotation needs no restart."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import jwt
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_gcp.app import create_app
from mock_gcp.backend import GoogleBackend, LocalDeviations
from mock_gcp.iam import Caller
from mock_gcp.key_source import KeySource, KeySourceError
from mock_gcp.key_source import main as key_source_main
from mock_gcp.tokens import TokenStore
from tests.mock_gcp.conftest import (
    CLOUD_PLATFORM,
    INVALID_CREDENTIALS,
    POOL,
    POOL_SA,
    SA,
    FakeIssuer,
    Google,
)
from tests.mock_gcp.test_iam_fidelity import changed, disable_pool
from wiflab_core.serving import ThreadedServer

# Google's answer to a token tokeninfo does not know.
INVALID_TOKEN = {"error": "invalid_token", "error_description": "Invalid Value"}


def _serve(topology, issuer_url: str, keys: KeySource) -> tuple[ThreadedServer, Google]:
    server = ThreadedServer()
    backend = GoogleBackend(
        topology,
        LocalDeviations(google_issuer="https://wiflab.test", lab_idp_issuer=issuer_url),
        keys=keys,
    )
    server.app = create_app(backend)
    return server, Google(server.url, backend)


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys") / "google-keys.json"


@pytest.fixture(scope="module")
def pair(topology, issuer: FakeIssuer, key_file: Path) -> Iterator[tuple[Google, Google]]:
    """Two instances, each with its own KeySource opened on the same file (as two processes)."""
    first, a = _serve(topology, issuer.url, KeySource.open(key_file))
    second, b = _serve(topology, issuer.url, KeySource.open(key_file))
    with first, second:
        yield a, b


def _api_error(response: requests.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["status"], error["message"]


def test_the_key_file_is_made_once_owner_only_and_then_read(key_file: Path, pair) -> None:
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    a, b = pair
    assert a.backend.issuer.jwks() == b.backend.issuer.jwks()


def test_a_federated_token_from_one_instance_impersonates_on_the_other(pair, issuer) -> None:
    a, b = pair
    federated = a.federated_token(issuer.mint())
    assert federated.startswith("ya29.d.")
    response = b.iamcredentials(SA, "generateAccessToken", federated, {"scope": [CLOUD_PLATFORM]})
    assert response.status_code == 200, response.text
    access = response.json()["accessToken"]
    assert access.startswith("ya29.c.")
    # ...and that access token is known to the first instance's tokeninfo.
    info = requests.get(f"{a.url}/oauth2/v3/tokeninfo", params={"access_token": access})
    assert info.status_code == 200, info.text
    assert info.json()["scope"] == CLOUD_PLATFORM


def test_an_id_token_from_one_instance_verifies_with_the_other_s_certs(pair, issuer) -> None:
    a, b = pair
    federated = a.federated_token(issuer.mint())
    response = a.iamcredentials(SA, "generateIdToken", federated, {"audience": "https://svc"})
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    certs = requests.get(f"{b.url}/oauth2/v3/certs").json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in certs["keys"] if k["kid"] == kid)
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience="https://svc")
    assert claims["aud"] == "https://svc"


def test_sign_jwt_on_one_instance_verifies_with_the_other_s_account_certs(pair, issuer) -> None:
    a, b = pair
    federated = a.federated_token(issuer.mint())
    body = {"payload": json.dumps({"sub": "x", "exp": int(time.time()) + 600})}
    # The account's key is made here, on first use, by the second instance.
    response = b.iamcredentials(POOL_SA, "signJwt", federated, body)
    assert response.status_code == 200, response.text
    signed = response.json()["signedJwt"]
    certs = requests.get(f"{a.url}/service_accounts/v1/jwk/{POOL_SA}").json()
    kid = jwt.get_unverified_header(signed)["kid"]
    key = next(k for k in certs["keys"] if k["kid"] == kid)
    assert jwt.decode(signed, jwt.PyJWK(key).key, algorithms=["RS256"])["sub"] == "x"


def test_a_token_sealed_with_another_key_is_an_unknown_token(pair, issuer, topology) -> None:
    a, _ = pair
    server, elsewhere = _serve(topology, issuer.url, KeySource())
    with server:
        foreign = elsewhere.federated_token(issuer.mint())
    made_up = "ya29.d." + "A" * len(foreign.removeprefix("ya29.d."))
    body = {"scope": [CLOUD_PLATFORM]}
    answers = [a.iamcredentials(SA, "generateAccessToken", t, body) for t in (foreign, made_up)]
    assert [_api_error(r) for r in answers] == [(401, "UNAUTHENTICATED", INVALID_CREDENTIALS)] * 2
    assert answers[0].json() == answers[1].json()


def test_a_truncated_or_tampered_token_is_an_unknown_token(pair, issuer) -> None:
    a, _ = pair
    federated = a.federated_token(issuer.mint())
    flipped = federated[:-5] + ("A" if federated[-5] != "A" else "B") + federated[-4:]
    body = {"scope": [CLOUD_PLATFORM]}
    for token in (federated[:-1], federated[:40], flipped, federated.replace("ya29.d.", "ya29.c.")):
        response = a.iamcredentials(SA, "generateAccessToken", token, body)
        assert _api_error(response) == (401, "UNAUTHENTICATED", INVALID_CREDENTIALS), token[:12]


def test_tokeninfo_knows_no_tampered_access_token(pair, issuer) -> None:
    a, _ = pair
    federated = a.federated_token(issuer.mint())
    response = a.iamcredentials(SA, "generateAccessToken", federated, {"scope": [CLOUD_PLATFORM]})
    access = response.json()["accessToken"]
    tampered = access[:20] + ("x" if access[20] != "x" else "y") + access[21:]
    info = requests.get(f"{a.url}/oauth2/v3/tokeninfo", params={"access_token": tampered})
    assert (info.status_code, info.json()) == (400, INVALID_TOKEN)


def test_a_pool_disabled_on_another_instance_refuses_the_token(issuer, topology, tmp_path) -> None:
    keys = tmp_path / "keys.json"
    off = changed(topology, disable_pool("test-pool"))
    first, a = _serve(topology, issuer.url, KeySource.open(keys))
    second, b = _serve(off, issuer.url, KeySource.open(keys))
    with first, second:
        federated = a.federated_token(issuer.mint())
        response = b.iamcredentials(
            SA, "generateAccessToken", federated, {"scope": [CLOUD_PLATFORM]}
        )
    assert _api_error(response) == (401, "UNAUTHENTICATED", INVALID_CREDENTIALS)


# -- the token itself ------------------------------------------------------------------------


def _federated(attributes: dict[str, str]) -> Caller:
    return Caller("federated", "alice@domain.com", POOL, ("admins",), MappingProxyType(attributes))


def test_a_token_with_8_kb_of_mapped_attributes_stays_under_google_s_12288_bytes() -> None:
    # Random (incompressible) values: 50 attributes of 163 bytes, Google's 8 KB in all.
    values = {f"attr{i}": base64.b64encode(os.urandom(122)).decode()[:163] for i in range(50)}
    store = TokenStore(clock=lambda: 1_800_000_000)
    issued = store.issue("federated", _federated(values), 3600, scopes=(CLOUD_PLATFORM,))
    assert len(issued.token) <= 12288
    assert store.find(issued.token).caller.attributes == values


def test_a_token_is_opaque_base64url_without_padding() -> None:
    store = TokenStore(clock=lambda: 1_800_000_000)
    token = store.issue("access", Caller("serviceAccount", SA), 3600, (CLOUD_PLATFORM,)).token
    body = token.removeprefix("ya29.c.")
    assert set(body) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert SA not in token and "serviceAccount" not in base64.urlsafe_b64decode(body + "==").decode(
        "latin-1"
    )


def test_what_a_token_carries_comes_back_exactly() -> None:
    store = TokenStore(clock=lambda: 1_800_000_000.25)
    caller = Caller(
        "federated",
        "alice\ud800@domain.com",  # a lone surrogate a mapping can build
        POOL,
        ("a", "b"),
        MappingProxyType({"org": "acme", "teams": ("x", "y")}),
    )
    issued = store.issue("federated", caller, 600, ("s1", "s2"), provider=f"{POOL}/providers/p")
    assert store.find(issued.token) == issued


# One store (one key source) for the fuzz tests: making its keys is the slow part.
STORE = TokenStore(clock=lambda: 1_800_000_000)
TOKEN = STORE.issue("access", Caller("serviceAccount", SA), 3600, (CLOUD_PLATFORM,)).token


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_change_to_a_token_opens_it(data: st.DataObject) -> None:
    store, token = STORE, TOKEN
    index = data.draw(st.integers(0, len(token) - 1))
    how = data.draw(st.sampled_from(["replace", "cut", "insert"]))
    char = data.draw(st.characters(codec="utf-8"))
    if how == "replace":
        changed = token[:index] + char + token[index + 1 :]
    elif how == "cut":
        changed = token[:index]
    else:
        changed = token[:index] + char + token[index:]
    if changed != token:
        assert store.find(changed) is None


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=200)
    | st.binary(max_size=200).map(lambda b: "ya29.d." + base64.urlsafe_b64encode(b).decode())
)
def test_any_text_is_an_unknown_token_never_an_error(text: str) -> None:
    assert STORE.find(text) is None


# -- the key file ----------------------------------------------------------------------------


def test_rotation_reaches_every_reader_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "google-keys.json"
    writer, reader = KeySource.open(path), KeySource.open(path)
    issuing, verifying = TokenStore(keys=writer), TokenStore(keys=reader)
    before = issuing.issue("access", Caller("serviceAccount", SA), 3600).token
    old_kid = reader.current().active_issuer.kid

    writer.rotate()
    after = issuing.issue("access", Caller("serviceAccount", SA), 3600).token
    published = [k["kid"] for k in reader.current().issuer_jwks["keys"]]
    assert published[1] == old_kid and published[0] != old_kid
    # Tokens sealed before and after the rotation both open on the other reader.
    assert verifying.find(before) is not None and verifying.find(after) is not None

    writer.rotate()  # the key `before` was sealed with is retired now
    assert verifying.find(before) is None and verifying.find(after) is not None
    assert old_kid not in [k["kid"] for k in reader.current().issuer_jwks["keys"]]


def test_two_sources_make_one_key_per_service_account(tmp_path: Path) -> None:
    path = tmp_path / "google-keys.json"
    first, second = KeySource.open(path), KeySource.open(path)
    assert first.account_key(SA).key.kid == second.account_key(SA).key.kid
    assert first.account_key(SA).certificate == second.account_key(SA).certificate


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{", "not JSON"),
        ('{"format": "other"}', "not a key file"),
        ('{"format": "wiflab-google-keys/1", "sealing": ["AAAA"]}', "sealing"),
        ('{"format": "wiflab-google-keys/1"}', "malformed"),
    ],
)
def test_a_broken_key_file_names_itself(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "google-keys.json"
    path.write_text(text)
    with pytest.raises(KeySourceError) as raised:
        KeySource.open(path)
    assert str(path) in str(raised.value) and says in str(raised.value)
    assert "Traceback" not in str(raised.value)


def test_rotate_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "google-keys.json"
    reader = KeySource.open(path)
    old = reader.current().active_issuer.kid
    assert key_source_main(["rotate", str(path)]) == 0
    new = reader.current().active_issuer.kid
    assert new != old
    assert f"issuer keys now {new}, {old}" in capsys.readouterr().out
    assert key_source_main(["rotate", str(tmp_path / "absent.json")]) == 1
    assert "absent.json" in capsys.readouterr().err
