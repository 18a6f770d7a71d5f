"""The IdP serves each preset's issuer: discovery, keys and a guarded minting route."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from idp_server.app import create_app
from idp_server.errors import ConfigError
from idp_server.settings import IdpSettings

ISSUER = "http://127.0.0.1:9"
SECRET = "preset-token-secret-5d1e"


def client(**settings: Any) -> FlaskClient:
    return create_app(IdpSettings(**{"issuer": ISSUER, **settings})).test_client()


@pytest.fixture(scope="module")
def idp() -> FlaskClient:
    return client(presets={"github": {"owner": "acme", "owner_id": "1342004"}})


def verify(idp: FlaskClient, token: str, issuer: str, audience: Any) -> dict[str, Any]:
    discovery = idp.get(issuer.removeprefix(ISSUER) + "/.well-known/openid-configuration").json
    assert discovery["issuer"] == issuer
    jwks = idp.get(discovery["jwks_uri"].removeprefix(ISSUER)).json
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(
        token, key.key, algorithms=["RS256", "ES256"], audience=audience, issuer=issuer
    )


def test_each_preset_has_its_issuer_path(idp: FlaskClient) -> None:
    listing = idp.get("/presets").json["presets"]
    assert len(listing) == 13
    assert listing["github"]["issuer"] == f"{ISSUER}/presets/github"
    assert listing["github"]["real_issuer"] == "https://token.actions.githubusercontent.com"
    for name in listing:
        discovery = idp.get(f"/presets/{name}/.well-known/openid-configuration").json
        assert discovery["issuer"] == f"{ISSUER}/presets/{name}"
        assert idp.get(f"/presets/{name}/certs").json == idp.get("/certs").json


def test_a_minted_github_token_verifies_against_its_preset_issuer(idp: FlaskClient) -> None:
    response = idp.post(
        "/presets/github/token",
        json={"variant": "pull_request", "params": {"repository": "acme/app"}, "aud": "my-aud"},
    )
    assert response.status_code == 200, response.text
    claims = verify(idp, response.text, f"{ISSUER}/presets/github", "my-aud")
    assert claims["sub"] == "repo:acme/app:pull_request"
    # The topology's idp.presets default, as a string.
    assert claims["repository_owner_id"] == "1342004"


def test_default_audience_and_json_answer(idp: FlaskClient) -> None:
    response = idp.post("/presets/github/token", data="", headers={"Accept": "application/json"})
    body = response.json
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 300
    claims = verify(idp, body["id_token"], f"{ISSUER}/presets/github", "https://github.com/acme")
    assert claims["sub"] == "repo:acme/app:ref:refs/heads/main"


def test_get_token_for_url_sourced_credentials(idp: FlaskClient) -> None:
    response = idp.get("/presets/kubernetes/token?aud=sts-aud&namespace=ci")
    token = response.json["id_token"]
    claims = verify(idp, token, f"{ISSUER}/presets/kubernetes", "sts-aud")
    assert claims["aud"] == ["sts-aud"]
    assert claims["kubernetes.io"]["namespace"] == "ci"


def test_real_issuer_on_the_real_host(idp: FlaskClient) -> None:
    """Intercept mode: token.actions.githubusercontent.com arrives here with its own Host."""
    host = {"Host": "token.actions.githubusercontent.com"}
    discovery = idp.get("/.well-known/openid-configuration", headers=host).json
    assert discovery["issuer"] == "https://token.actions.githubusercontent.com"
    assert discovery["jwks_uri"] == "https://token.actions.githubusercontent.com/certs"
    assert idp.get("/.well-known/jwks", headers=host).json == idp.get("/certs").json
    token = idp.post("/token", json={"aud": "a"}, headers=host).text
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == (
        "https://token.actions.githubusercontent.com"
    )
    gitlab = idp.get("/.well-known/openid-configuration", headers={"Host": "gitlab.com"}).json
    assert gitlab["issuer"] == "https://gitlab.com"
    # The lab's own issuer is untouched on its own host.
    assert idp.get("/.well-known/openid-configuration").json["issuer"] == ISSUER


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[1]", "body"),
        (b"{", "body"),
        (json.dumps({"variant": "nope"}), "variant"),
        (json.dumps({"variant": 3}), "variant"),
        (json.dumps({"params": {"owner_id": 1342004}}), "params.owner_id"),
        (json.dumps({"params": {"colour": "red"}}), "colour"),
        (json.dumps({"params": []}), "params"),
        (json.dumps({"aud": 5}), "aud"),
        (json.dumps({"aud": []}), "aud"),
        (json.dumps({"claims": {}}), "claims"),
    ],
)
def test_bad_requests_name_the_field(idp: FlaskClient, body: Any, field: str) -> None:
    response = idp.post("/presets/github/token", data=body)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    assert response.json["error_description"].startswith(f"{field}: ")


def test_unknown_preset_is_a_404_listing_them(idp: FlaskClient) -> None:
    response = idp.post("/presets/jenkins/token", json={})
    assert response.status_code == 404
    assert "'jenkins' is not one of github, gitlab" in response.json["error_description"]
    assert idp.get("/presets/jenkins/certs").status_code == 404


def test_minting_is_guarded_like_token() -> None:
    guarded = client(token_secret=SECRET)
    assert guarded.post("/presets/github/token", json={}).status_code == 401
    assert guarded.get("/presets/github/token").status_code == 401
    ok = guarded.post(
        "/presets/github/token", json={}, headers={"Authorization": f"Bearer {SECRET}"}
    )
    assert ok.status_code == 200
    # Discovery and keys stay public (STS reads them).
    assert guarded.get("/presets/github/certs").status_code == 200


def test_bad_topology_defaults_refuse_to_start() -> None:
    with pytest.raises(ConfigError, match="'jenkins' is not one of"):
        IdpSettings(issuer=ISSUER, presets={"jenkins": {}})
    with pytest.raises(ConfigError, match=r"IDP_PRESETS\.github\.colour: not a param"):
        IdpSettings(issuer=ISSUER, presets={"github": {"colour": "red"}})
    env = IdpSettings(issuer=ISSUER, presets={"github": {"owner": "x"}}).to_env()
    assert IdpSettings.from_env(env).presets == {"github": {"owner": "x"}}


@settings(max_examples=80, deadline=None)
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["variant", "params", "aud", "owner", "x"]), inner, max_size=4
            )
        ),
        max_leaves=10,
    )
)
def test_any_json_body_is_a_token_or_a_named_400(idp: FlaskClient, body: Any) -> None:
    response = idp.post("/presets/github/token", data=json.dumps(body))
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json["error"] == "invalid_request"
