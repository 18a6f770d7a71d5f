"""Discovery, /certs and /token as a relying party and a workload see them, over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt
import pytest
from flask.testing import FlaskClient
from google.auth import identity_pool
from google.auth.transport.requests import Request

from idp_server.settings import IdpSettings
from tests.idp_server.helpers import Idp, error_of
from wiflab_core.keys import thumbprint

PROVIDER = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q"
CLAIMS = {"sub": "alice@domain.com", "aud": "aud-1", "isadmin": "true", "mygroups": ["g1", "g2"]}


def test_discovery_names_one_issuer_everywhere(idp: Idp) -> None:
    doc = idp.discovery()
    assert doc["issuer"] == idp.url
    assert doc["jwks_uri"] == f"{idp.url}/certs"
    assert doc["token_endpoint"] == f"{idp.url}/token"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]
    for field in ("response_types_supported", "subject_types_supported", "claims_supported"):
        assert doc[field], field


def test_certs_publish_public_parameters_only_with_thumbprint_kids(idp: Idp) -> None:
    keys = idp.jwks()["keys"]
    assert sorted(k["alg"] for k in keys) == ["ES256", "RS256"]
    for key in keys:
        assert key["use"] == "sig"
        assert key["kid"] == thumbprint(key)
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), key


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_token_verifies_against_jwks_found_through_discovery(idp: Idp, alg: str) -> None:
    token = idp.mint(CLAIMS, alg=alg)
    assert jwt.get_unverified_header(token)["alg"] == alg
    claims = idp.verify(token)
    assert {k: claims[k] for k in CLAIMS} == CLAIMS


def test_server_fills_in_iss_iat_exp_and_a_fresh_jti(idp: Idp) -> None:
    before = int(time.time())
    first, second = (idp.verify(idp.mint(CLAIMS)) for _ in range(2))
    after = int(time.time())
    assert first["iss"] == idp.url
    assert before <= first["iat"] <= after
    assert first["exp"] == first["iat"] + 3600
    assert first["jti"] and first["jti"] != second["jti"]


def test_posted_times_are_kept_and_the_ttl_is_configurable(serve_idp: Callable[..., Idp]) -> None:
    idp = serve_idp(token_ttl=600)
    now = int(time.time())
    assert idp.verify(idp.mint(CLAIMS))["exp"] - now in range(599, 602)
    posted = idp.verify(idp.mint({**CLAIMS, "iat": now - 10, "exp": now + 50, "jti": "mine"}))
    assert (posted["iat"], posted["exp"], posted["jti"]) == (now - 10, now + 50, "mine")


def test_text_plain_by_default_json_when_asked(idp: Idp) -> None:
    plain = idp.post_token(CLAIMS)
    assert plain.headers["Content-Type"].startswith("text/plain")
    assert plain.text.count(".") == 2 and not plain.text.endswith("\n")
    curl_like = idp.post_token(CLAIMS, headers={"Accept": "*/*"})
    assert curl_like.headers["Content-Type"].startswith("text/plain")
    as_json = idp.post_token(CLAIMS, headers={"Accept": "application/json"})
    body = as_json.json()
    assert set(body) == {"id_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and 3599 <= body["expires_in"] <= 3600
    assert idp.verify(body["id_token"])["sub"] == CLAIMS["sub"]


def test_seed_curl_form_content_type_is_still_read_as_json(idp: Idp) -> None:
    # curl -d sends application/x-www-form-urlencoded; the seed posts raw JSON that way.
    response = idp.post_token(CLAIMS, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert idp.verify(response.text)["mygroups"] == ["g1", "g2"]


def test_profile_route_feeds_google_auth_url_credential_source(
    serve_idp: Callable[..., Idp],
) -> None:
    idp = serve_idp(profiles={"alice": {"sub": "alice@domain.com", "aud": "aud-1"}})
    credentials = identity_pool.Credentials.from_info(
        {
            "type": "external_account",
            "audience": PROVIDER,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": "https://sts.googleapis.com/v1/token",
            "credential_source": {
                "url": f"{idp.url}/token/alice",
                "format": {"type": "json", "subject_token_field_name": "id_token"},
            },
        }
    )
    subject_token = credentials.retrieve_subject_token(Request())
    claims = idp.verify(subject_token)
    assert claims["sub"] == "alice@domain.com"
    assert claims["iss"] == idp.url


def test_profile_aud_parameter_and_key_choice(serve_idp: Callable[..., Idp]) -> None:
    idp = serve_idp(profiles={"alice": {"sub": "alice", "aud": "aud-1"}})
    body = idp.session.get(f"{idp.url}/token/alice", params={"aud": "aud-2", "alg": "ES256"}).json()
    assert jwt.get_unverified_header(body["id_token"])["alg"] == "ES256"
    assert idp.verify(body["id_token"], audience="aud-2")["sub"] == "alice"


def test_unknown_profile_is_a_404_naming_the_known_ones(serve_idp: Callable[..., Idp]) -> None:
    idp = serve_idp(profiles={"alice": {"sub": "alice"}})
    status, error, description = error_of(idp.session.get(f"{idp.url}/token/bob"))
    assert (status, error) == (404, "not_found")
    assert "'bob'" in description and "alice" in description


def test_issuer_is_normalised_once_for_discovery_and_tokens(
    serve_idp: Callable[..., Idp],
) -> None:
    assert IdpSettings(issuer=" https://idp.example/// ").issuer == "https://idp.example"
    idp = serve_idp(issuer="https://idp.example/")
    doc = idp.discovery()
    assert (doc["issuer"], doc["jwks_uri"]) == ("https://idp.example", "https://idp.example/certs")
    claims = jwt.decode(idp.mint(CLAIMS), options={"verify_signature": False})
    assert claims["iss"] == "https://idp.example"


def test_issuer_from_host_only_when_enabled_and_only_a_trusted_proxys_scheme(
    serve_idp: Callable[..., Idp],
) -> None:
    fixed = serve_idp(issuer="https://idp.example")
    spoofed = fixed.session.get(
        f"{fixed.url}/.well-known/openid-configuration", headers={"Host": "evil.example"}
    )
    assert spoofed.json()["issuer"] == "https://idp.example"

    derived = serve_idp(issuer=None, issuer_from_host=True)
    assert derived.discovery()["issuer"] == derived.url
    # X-Forwarded-Host is never believed (Cloud Run does not set it), nor, from an address
    # that is not a trusted proxy, X-Forwarded-Proto.
    forged = derived.session.get(
        f"{derived.url}/.well-known/openid-configuration",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"},
    ).json()
    assert (forged["issuer"], forged["jwks_uri"]) == (derived.url, f"{derived.url}/certs")
    token = derived.post_token(CLAIMS, headers={"X-Forwarded-Host": "evil.example"}).text
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == derived.url

    behind_proxy = serve_idp(issuer=None, issuer_from_host=True, trusted_proxies=("127.0.0.1",))
    host = behind_proxy.url.removeprefix("http://")
    seen = behind_proxy.session.get(
        f"{behind_proxy.url}/.well-known/openid-configuration",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"},
    ).json()
    assert seen["jwks_uri"] == f"https://{host}/certs"


@pytest.mark.parametrize("host", ["evil.example/x", "a@b", "x y", "", "[::1"])
def test_a_host_that_is_not_a_host_name_is_a_400_in_issuer_from_host_mode(
    serve_idp: Callable[..., Idp], host: str
) -> None:
    derived = serve_idp(issuer=None, issuer_from_host=True)
    response = derived.session.get(
        f"{derived.url}/.well-known/openid-configuration", headers={"Host": host}
    )
    assert error_of(response) == (
        400,
        "invalid_request",
        "Host: not a host name (IDP_ISSUER_FROM_HOST)",
    )


def test_on_cloud_run_the_front_ends_scheme_is_trusted_elsewhere_none() -> None:
    on_run = IdpSettings.from_env({"IDP_ISSUER_FROM_HOST": "1", "K_SERVICE": "idp"})
    assert on_run.trusts_proxy("169.254.1.1")
    local = IdpSettings.from_env({"IDP_ISSUER_FROM_HOST": "1"})
    assert not local.trusts_proxy("127.0.0.1")
    named = IdpSettings.from_env({"IDP_ISSUER_FROM_HOST": "1", "IDP_TRUSTED_PROXIES": "10.0.0.1"})
    assert named.trusts_proxy("10.0.0.1") and not named.trusts_proxy("10.0.0.2")
    assert IdpSettings.from_env(named.to_env()) == named


def test_foreign_issuer_refused_unless_allowed(serve_idp: Callable[..., Idp]) -> None:
    strict = serve_idp()
    status, _, description = error_of(strict.post_token({**CLAIMS, "iss": "https://other"}))
    assert status == 400 and description.startswith("iss:")
    assert "IDP_ALLOW_FOREIGN_ISSUER" in description
    assert strict.verify(strict.mint({**CLAIMS, "iss": strict.url}))["iss"] == strict.url

    lenient = serve_idp(allow_foreign_issuer=True)
    token = lenient.mint({**CLAIMS, "iss": "https://other"})
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == "https://other"


def test_lifetime_up_to_the_maximum_and_not_beyond(serve_idp: Callable[..., Idp]) -> None:
    idp = serve_idp(max_lifetime=7200)
    now = int(time.time())
    assert idp.post_token({**CLAIMS, "iat": now, "exp": now + 7200}).status_code == 200
    status, _, description = error_of(idp.post_token({**CLAIMS, "iat": now, "exp": now + 7201}))
    assert status == 400 and description.startswith("exp:") and "7200" in description


def test_default_maximum_lifetime_is_24_hours(idp: Idp) -> None:
    now = int(time.time())
    assert idp.post_token({**CLAIMS, "iat": now, "exp": now + 86400}).status_code == 200
    assert idp.post_token({**CLAIMS, "iat": now, "exp": now + 86401}).status_code == 400


def test_expired_tokens_can_be_minted_for_negative_tests(idp: Idp) -> None:
    now = int(time.time())
    token = idp.mint({**CLAIMS, "iat": now - 7200, "exp": now - 3600})
    with pytest.raises(jwt.ExpiredSignatureError):
        idp.verify(token)


def test_healthz_and_app_fixture(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/.well-known/openid-configuration").json["issuer"] == "https://idp.example"
