"""Key rotation without restart: add, activate, retire, held keys; one state file for all."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import jwt
import pytest

from idp_server.errors import IdpError
from idp_server.keyset import KeySet, KeyStatus
from idp_server.keystore import KeyStore, create_state_file, initial_keyset
from tests.idp_server.helpers import Idp, error_of
from wiflab_core.keys import generate

CLAIMS = {"sub": "alice", "aud": "aud-1"}


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_added_key_is_published_and_signs_when_asked(idp: Idp) -> None:
    kid = idp.add_key("RS256")
    assert kid in idp.kids()
    assert kid_of(idp.mint(CLAIMS)) != kid
    token = idp.mint(CLAIMS, kid=kid)
    assert kid_of(token) == kid and idp.verify(token)["sub"] == "alice"


def test_activation_switches_the_signer_and_keeps_old_tokens_verifiable(idp: Idp) -> None:
    old_token = idp.mint(CLAIMS)
    kid = idp.add_key("ES256")
    listing = idp.admin("POST", f"/keys/{kid}/activate").json()["keys"]
    assert {k["kid"]: k["status"] for k in listing}[kid] == "active"
    new_token = idp.mint(CLAIMS)
    assert kid_of(new_token) == kid and jwt.get_unverified_header(new_token)["alg"] == "ES256"
    assert idp.verify(old_token)["sub"] == idp.verify(new_token)["sub"] == "alice"


def test_held_key_signs_tokens_nobody_can_verify(idp: Idp) -> None:
    kid = idp.add_key("RS256", status="held")
    assert kid not in idp.kids()
    token = idp.mint(CLAIMS, kid=kid)
    assert kid_of(token) == kid
    with pytest.raises(jwt.PyJWKClientError):
        idp.verify(token)


def test_retired_key_leaves_certs_and_stops_signing(idp: Idp) -> None:
    kid = idp.add_key("RS256")
    token = idp.mint(CLAIMS, kid=kid)
    idp.admin("POST", f"/keys/{kid}/retire")
    assert kid not in idp.kids()
    with pytest.raises(jwt.PyJWKClientError):
        idp.verify(token)
    status, _, description = error_of(idp.post_token(CLAIMS, kid=kid))
    assert status == 400 and "retired" in description


def test_rotation_conflicts_and_unknown_kids(idp: Idp) -> None:
    active = next(
        k["kid"] for k in idp.admin("GET", "/keys").json()["keys"] if k["status"] == "active"
    )
    status, error, description = error_of(idp.admin("POST", f"/keys/{active}/retire"))
    assert (status, error) == (409, "conflict") and "activate another key first" in description
    retired = idp.add_key()
    idp.admin("POST", f"/keys/{retired}/retire")
    assert error_of(idp.admin("POST", f"/keys/{retired}/activate"))[0] == 409
    assert error_of(idp.admin("POST", "/keys/nope/activate"))[:2] == (404, "not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"alg": "HS256"}, "alg"),
        ({"status": "retired"}, "status"),
        ({"status": ["held"]}, "status"),
        ([1], "body"),
        ("not json", "body"),
    ],
)
def test_bad_add_requests_name_the_field(idp: Idp, body: object, field: str) -> None:
    data = body if isinstance(body, str) else json.dumps(body)
    status, _, description = error_of(idp.admin("POST", "/keys", data=data))
    assert status == 400 and description.startswith(f"{field}:")


def test_initial_keys_first_signs_rest_published_duplicates_once() -> None:
    rsa, ec = generate("RS256"), generate("ES256")
    keyset = KeySet.initial([rsa, ec, rsa])
    assert [(e.key.kid, e.status) for e in keyset.entries] == [
        (rsa.kid, KeyStatus.ACTIVE),
        (ec.kid, KeyStatus.PUBLISHED),
    ]
    assert keyset.signer(alg="ES256").kid == ec.kid
    with pytest.raises(IdpError, match="no published ES256 key"):
        KeySet.initial([rsa]).signer(alg="ES256")


def test_state_file_round_trips_statuses_and_is_private(tmp_path: Path) -> None:
    keyset = initial_keyset(None).added(generate("ES256"), KeyStatus.HELD)
    path = create_state_file(keyset, tmp_path / "state")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = KeyStore.open(path).current()
    assert loaded.listing() == keyset.listing()
    assert loaded.jwks_json == keyset.jwks_json


def test_a_change_through_one_store_is_seen_by_another_on_the_same_file(tmp_path: Path) -> None:
    path = create_state_file(initial_keyset(None), tmp_path)
    first, second = KeyStore.open(path), KeyStore.open(path)
    key = generate("RS256")
    first.update(lambda keys: keys.added(key, KeyStatus.ACTIVE))
    assert second.current().active.kid == key.kid
    # Two quick changes in a row are each seen: the file's stamp always moves.
    first.update(lambda keys: keys.retired(next(e.key.kid for e in keys.entries[:1])))
    second_view = second.current().listing()
    assert second_view == first.current().listing()
    assert second_view[0]["status"] == "retired"


def test_a_broken_state_file_keeps_the_last_good_keys(tmp_path: Path) -> None:
    path = create_state_file(initial_keyset(None), tmp_path)
    store = KeyStore.open(path)
    before = store.current().jwks_json
    path.write_text("{broken")
    assert store.current().jwks_json == before
