"""What /dump says about the caller in each verification mode, over real HTTP.

A bad token never fails the request: /dump answers 200 and explains why it is not verified.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from protected_app.settings import Settings, SettingsError, VerifyMode
from tests.protected_app.helpers import (
    AUDIENCE,
    ISSUER,
    JwksServer,
    ServeDump,
    claims,
    signature_removed,
)
from wiflab_core.keys import SigningKey


def identity_of(url: str, headers: dict[str, str]) -> dict[str, Any]:
    response = requests.get(url + "/dump", headers=headers)
    assert response.status_code == 200
    return response.json()["identity"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CLOUD_RUN = Settings.from_env({"K_SERVICE": "dump"})


# --- cloud-run mode -------------------------------------------------------------------


def test_cloud_run_marker_is_reported_verified_by_the_front_end(
    serve_dump: ServeDump, rsa_key: SigningKey
) -> None:
    token = signature_removed(rsa_key.sign(claims()))
    identity = identity_of(serve_dump(CLOUD_RUN), bearer(token))
    assert identity["verified"] is True
    assert identity["by"] == "Cloud Run front end (signature removed by Google)"
    assert identity["claims"]["email"] == "caller@project.iam.gserviceaccount.com"
    assert identity["header"] == "Authorization"
    assert "error" not in identity


def test_cloud_run_token_with_a_real_signature_is_not_verified(
    serve_dump: ServeDump, rsa_key: SigningKey
) -> None:
    identity = identity_of(serve_dump(CLOUD_RUN), bearer(rsa_key.sign(claims())))
    assert identity["verified"] is False
    assert identity["by"] is None
    assert "SIGNATURE_REMOVED_BY_GOOGLE" in identity["error"]
    assert identity["claims"]["sub"] == "112233445566778899"


def test_serverless_authorization_wins_over_authorization(
    serve_dump: ServeDump, rsa_key: SigningKey
) -> None:
    checked = signature_removed(rsa_key.sign(claims(email="front@p.iam.gserviceaccount.com")))
    headers = {"X-Serverless-Authorization": f"Bearer {checked}", "Authorization": "Basic abc"}
    identity = identity_of(serve_dump(CLOUD_RUN), headers)
    assert identity["header"] == "X-Serverless-Authorization"
    assert identity["verified"] is True
    assert identity["claims"]["email"] == "front@p.iam.gserviceaccount.com"


# --- jwks mode ------------------------------------------------------------------------


def jwks_settings(jwks: JwksServer) -> Settings:
    return Settings(VerifyMode.JWKS, (AUDIENCE,), (ISSUER,), jwks.url)


def test_jwks_mode_verifies_rs256_and_es256(
    serve_dump: ServeDump, jwks: JwksServer, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    url = serve_dump(jwks_settings(jwks))
    for key in (rsa_key, ec_key):
        identity = identity_of(url, bearer(key.sign(claims())))
        assert identity["verified"] is True, identity
        assert jwks.url in identity["by"]
        assert identity["jose_header"]["kid"] == key.kid


def test_jwks_is_fetched_once_not_per_request(
    serve_dump: ServeDump, jwks: JwksServer, rsa_key: SigningKey
) -> None:
    url = serve_dump(jwks_settings(jwks))
    for _ in range(5):
        assert identity_of(url, bearer(rsa_key.sign(claims())))["verified"] is True
    assert jwks.fetches == 1


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": 1_000_000_000, "iat": 999_999_000}, "expired"),
        ({"aud": "https://someone-else.example"}, "wrong audience"),
        ({"iss": "https://evil.example"}, "wrong issuer"),
    ],
)
def test_jwks_mode_explains_rejected_claims(
    serve_dump: ServeDump,
    jwks: JwksServer,
    rsa_key: SigningKey,
    overrides: dict[str, Any],
    reason: str,
) -> None:
    identity = identity_of(
        serve_dump(jwks_settings(jwks)), bearer(rsa_key.sign(claims(**overrides)))
    )
    assert identity["verified"] is False
    assert identity["error"].startswith(reason + ":")
    assert identity["claims"] is not None  # still shown: it is a dump


def test_jwks_mode_explains_unknown_kid(
    serve_dump: ServeDump, jwks: JwksServer, other_rsa_key: SigningKey
) -> None:
    identity = identity_of(serve_dump(jwks_settings(jwks)), bearer(other_rsa_key.sign(claims())))
    assert identity["verified"] is False
    assert identity["error"].startswith("unknown kid:")
    assert other_rsa_key.kid in identity["error"]


def test_jwks_mode_explains_bad_signature(
    serve_dump: ServeDump, jwks: JwksServer, rsa_key: SigningKey, other_rsa_key: SigningKey
) -> None:
    forged = other_rsa_key.sign(claims(), headers={"kid": rsa_key.kid})
    identity = identity_of(serve_dump(jwks_settings(jwks)), bearer(forged))
    assert identity["verified"] is False
    assert identity["error"].startswith("bad signature:")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Bearer not-a-jwt", "malformed:"),
        ("Basic dXNlcjpwdw==", "malformed:"),
        ("Bearer", "malformed:"),
    ],
)
def test_malformed_credentials_are_explained(
    serve_dump: ServeDump, jwks: JwksServer, value: str, reason: str
) -> None:
    identity = identity_of(serve_dump(jwks_settings(jwks)), {"Authorization": value})
    assert identity["verified"] is False
    assert identity["error"].startswith(reason)
    assert identity["header"] == "Authorization"


def test_jwks_unreachable_is_explained_not_a_500(
    serve_dump: ServeDump, rsa_key: SigningKey
) -> None:
    settings = Settings(VerifyMode.JWKS, (AUDIENCE,), (ISSUER,), "http://127.0.0.1:9/certs")
    identity = identity_of(serve_dump(settings), bearer(rsa_key.sign(claims())))
    assert identity["verified"] is False
    assert identity["error"].startswith("JWKS unavailable:")


# --- google mode ----------------------------------------------------------------------


def test_google_mode_accepts_both_google_issuer_spellings(
    serve_dump: ServeDump, jwks: JwksServer, rsa_key: SigningKey
) -> None:
    env = {"PROTECTED_APP_VERIFY": "google", "PROTECTED_APP_AUDIENCE": AUDIENCE}
    env["PROTECTED_APP_GOOGLE_CERTS_URL"] = jwks.url
    url = serve_dump(Settings.from_env(env))
    for issuer in ("https://accounts.google.com", "accounts.google.com"):
        identity = identity_of(url, bearer(rsa_key.sign(claims(iss=issuer))))
        assert identity["verified"] is True, identity
        assert "Google" in identity["by"]
    other = identity_of(url, bearer(rsa_key.sign(claims())))
    assert other["error"].startswith("wrong issuer:")


def test_google_mode_accepts_rs256_only(
    serve_dump: ServeDump, jwks: JwksServer, ec_key: SigningKey
) -> None:
    url = serve_dump(Settings.google((AUDIENCE,), jwks.url))
    identity = identity_of(url, bearer(ec_key.sign(claims(iss="https://accounts.google.com"))))
    assert identity["verified"] is False
    assert identity["error"].startswith("algorithm not allowed:")


# --- none mode ------------------------------------------------------------------------


def test_none_mode_decodes_and_says_it_did_not_verify(
    serve_dump: ServeDump, other_rsa_key: SigningKey
) -> None:
    identity = identity_of(serve_dump(Settings()), bearer(other_rsa_key.sign(claims())))
    assert identity["verified"] is False
    assert identity["claims"]["email"] == "caller@project.iam.gserviceaccount.com"
    assert "PROTECTED_APP_VERIFY=none" in identity["error"]


# --- settings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PROTECTED_APP_VERIFY": "sometimes"}, "PROTECTED_APP_VERIFY"),
        ({"PROTECTED_APP_VERIFY": "google"}, "PROTECTED_APP_AUDIENCE"),
        ({"PROTECTED_APP_VERIFY": "jwks", "PROTECTED_APP_AUDIENCE": "a"}, "PROTECTED_APP_ISSUER"),
        (
            {
                "PROTECTED_APP_VERIFY": "jwks",
                "PROTECTED_APP_AUDIENCE": "a",
                "PROTECTED_APP_ISSUER": "i",
            },
            "PROTECTED_APP_JWKS_URL",
        ),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_default_mode_follows_k_service() -> None:
    assert Settings.from_env({}).verify is VerifyMode.NONE
    assert Settings.from_env({"K_SERVICE": "s"}).verify is VerifyMode.CLOUD_RUN
    overridden = Settings.from_env({"K_SERVICE": "s", "PROTECTED_APP_VERIFY": "none"})
    assert overridden.verify is VerifyMode.NONE


def test_unknown_kids_do_not_make_it_refetch_per_request(
    serve_dump: ServeDump, jwks: JwksServer, rsa_key: SigningKey, other_rsa_key: SigningKey
) -> None:
    url = serve_dump(jwks_settings(jwks))
    assert identity_of(url, bearer(rsa_key.sign(claims())))["verified"] is True
    for _ in range(5):
        assert identity_of(url, bearer(other_rsa_key.sign(claims())))["verified"] is False
    assert jwks.fetches <= 2
