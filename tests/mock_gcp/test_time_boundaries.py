"""Every time boundary of Google's side, just inside and just outside, on a fake clock.

The backend's injected clock stands still at ``T`` unless a test moves it, so each check is
exact to the second: STS (the subject token's exp, a future iat, a stale iat, the federated
token's lifetime), IAM Credentials (expired federated and access tokens, lifetime bounds,
signJwt's exp), the Google issuer (ID-token times) and tokeninfo (expires_in, and an ID
token's exp, which the issuer checks against the same clock).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests

from mock_gcp.topology import Topology
from tests.mock_gcp.conftest import (
    CLOUD_PLATFORM,
    DELEGATE_SA,
    GROUP_SA,
    INVALID_CREDENTIALS,
    SA,
    TARGET_SA,
    FakeClock,
    FakeIssuer,
    Google,
    T,
    serve_google,
)

DAY = 86400


@pytest.fixture(scope="module")
def google(topology: Topology, issuer: FakeIssuer, clock: FakeClock) -> Iterator[Google]:
    """Google's side on the fake clock (shadows the conftest's real-time one)."""
    server, google = serve_google(topology, issuer.url, clock=clock)
    with server:
        yield google


@pytest.fixture(autouse=True)
def at_t(clock: FakeClock) -> None:
    clock.now = T


def refusal(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def api_error(response: requests.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    assert error["code"] == response.status_code
    return response.status_code, error["status"], error["message"]


def federated(google: Google, issuer: FakeIssuer, **claims: Any) -> str:
    """alice's federated token, exchanged at the clock's now (lives until T + 3600)."""
    return google.federated_token(issuer.mint(**{"iat": T, "exp": T + 3600, **claims}))


# --- STS: the subject token's times (CLOCK_SKEW 60 s, 24 h maximum) ---


def test_sts_accepts_a_token_expired_less_than_the_skew(google, issuer):
    response = google.exchange(issuer.mint(iat=T - 3600, exp=T - 59))
    assert response.status_code == 200, response.text
    assert response.json()["expires_in"] == 1  # never beyond the subject token; at least 1 s


def test_sts_refuses_a_token_expired_by_the_skew(google, issuer):
    iat = T - 3600
    assert refusal(google.exchange(issuer.mint(iat=iat, exp=T - 60))) == (
        400,
        "invalid_grant",
        f"ID Token issued at {iat} is stale to sign-in.",
    )


def test_sts_refuses_a_token_expired_thirty_minutes(google, issuer):
    iat = T - 3600
    assert refusal(google.exchange(issuer.mint(iat=iat, exp=T - 1800))) == (
        400,
        "invalid_grant",
        f"ID Token issued at {iat} is stale to sign-in.",
    )


def test_sts_accepts_an_iat_up_to_the_skew_in_the_future(google, issuer):
    response = google.exchange(issuer.mint(iat=T + 60, exp=T + 3600))
    assert response.status_code == 200, response.text


def test_sts_refuses_an_iat_beyond_the_skew_in_the_future(google, issuer):
    # R-GCP: +60 s accepted, +119 s refused; the text is unverified (the stale text).
    iat = T + 61
    assert refusal(google.exchange(issuer.mint(iat=iat, exp=iat + 3600))) == (
        400,
        "invalid_grant",
        f"ID Token issued at {iat} is stale to sign-in.",
    )


def test_sts_accepts_an_iat_exactly_a_day_old(google, issuer):
    assert google.exchange(issuer.mint(iat=T - DAY, exp=T)).status_code == 200


def test_sts_refuses_an_iat_over_a_day_old_even_inside_exp_skew(google, issuer):
    # exp is only a second past (inside the skew) and exp - iat is the 24 h maximum: only
    # the token's age refuses it.
    iat = T - DAY - 1
    assert refusal(google.exchange(issuer.mint(iat=iat, exp=T - 1))) == (
        400,
        "invalid_grant",
        f"ID Token issued at {iat} is stale to sign-in.",
    )


def test_sts_bounds_the_age_of_iat_not_the_lifetime(google, issuer):
    assert google.exchange(issuer.mint(iat=T - DAY, exp=T + 10 * DAY)).status_code == 200
    iat = T - DAY - 1
    assert refusal(google.exchange(issuer.mint(iat=iat, exp=T + 10 * DAY))) == (
        400,
        "invalid_grant",
        f"ID Token issued at {iat} is stale to sign-in.",
    )


def test_a_nearly_expired_subject_token_gets_the_seconds_it_has_left(google, issuer):
    # R-GCP: expires_in = min(exp - now, 3600), never 0 for a token still valid.
    assert google.exchange(issuer.mint(iat=T - 600, exp=T + 1)).json()["expires_in"] == 1
    assert google.exchange(issuer.mint(iat=T - 600, exp=T + 5)).json()["expires_in"] == 5


@pytest.mark.parametrize(
    ("exp", "expires_in"), [(T + 600, 600), (T + 3600, 3600), (T + 7200, 3600)]
)
def test_federated_token_lives_an_hour_at_most_and_never_beyond_the_subject_token(
    google, issuer, exp, expires_in
):
    response = google.exchange(issuer.mint(iat=T, exp=exp))
    assert response.json()["expires_in"] == expires_in


# --- IAM Credentials: the bearer's token, lifetimes, signJwt's exp ---


def test_federated_token_works_until_its_last_second(google, issuer, clock):
    token = federated(google, issuer)
    clock.now = T + 3599
    response = google.iamcredentials(SA, "generateIdToken", token, {"audience": "a"})
    assert response.status_code == 200, response.text


def test_federated_token_is_refused_once_expired(google, issuer, clock):
    token = federated(google, issuer)
    clock.now = T + 3600
    response = google.iamcredentials(SA, "generateIdToken", token, {"audience": "a"})
    assert api_error(response) == (401, "UNAUTHENTICATED", INVALID_CREDENTIALS)


def service_account_token(google: Google, issuer: FakeIssuer, lifetime: str) -> dict[str, str]:
    """DELEGATE_SA's access token, which TARGET_SA lets mint its ID tokens."""
    body = {"scope": [CLOUD_PLATFORM], "lifetime": lifetime}
    response = google.iamcredentials(
        DELEGATE_SA, "generateAccessToken", federated(google, issuer), body
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_access_token_works_until_its_last_second(google, issuer, clock):
    token = service_account_token(google, issuer, "600s")
    assert token["expireTime"] == "2027-01-15T08:10:00Z"
    clock.now = T + 599
    response = google.iamcredentials(
        TARGET_SA, "generateIdToken", token["accessToken"], {"audience": "a"}
    )
    assert response.status_code == 200, response.text


def test_access_token_is_refused_once_expired(google, issuer, clock):
    token = service_account_token(google, issuer, "600s")
    clock.now = T + 600
    response = google.iamcredentials(
        TARGET_SA, "generateIdToken", token["accessToken"], {"audience": "a"}
    )
    assert api_error(response) == (401, "UNAUTHENTICATED", INVALID_CREDENTIALS)


@pytest.mark.parametrize(
    ("lifetime", "expire_time"),
    [("1s", "2027-01-15T08:00:01Z"), ("3600s", "2027-01-15T09:00:00Z")],
)
def test_access_token_lifetimes_from_one_second_to_one_hour(google, issuer, lifetime, expire_time):
    assert service_account_token(google, issuer, lifetime)["expireTime"] == expire_time


@pytest.mark.parametrize("lifetime", ["0s", "-1s", "-3600s"])
def test_access_token_lifetime_must_be_positive(google, issuer, lifetime):
    body = {"scope": [CLOUD_PLATFORM], "lifetime": lifetime}
    response = google.iamcredentials(SA, "generateAccessToken", federated(google, issuer), body)
    # Google's text, spelling included (R-GCP).
    assert api_error(response) == (
        400,
        "INVALID_ARGUMENT",
        "Lifetime of access token must be larger then zero.",
    )


# iamcredentials.v1.json, SignJwtRequest.payload.
SIGN_JWT_EXP_TEXT = (
    "If the JWT Claims Set contains an expiration time (`exp`) claim, it must be an integer "
    "timestamp that is not in the past and no more than 12 hours in the future."
)


def sign_jwt(google: Google, issuer: FakeIssuer, claims: dict[str, Any]) -> requests.Response:
    payload = json.dumps(claims)
    return google.iamcredentials(
        GROUP_SA, "signJwt", federated(google, issuer), {"payload": payload}
    )


def test_sign_jwt_exp_up_to_twelve_hours_ahead(google, issuer):
    response = sign_jwt(google, issuer, {"sub": "x", "exp": T + 12 * 3600})
    assert response.status_code == 200, response.text
    signed = jwt.decode(response.json()["signedJwt"], options={"verify_signature": False})
    assert signed == {"sub": "x", "exp": T + 12 * 3600}


def test_sign_jwt_exp_beyond_twelve_hours(google, issuer):
    response = sign_jwt(google, issuer, {"sub": "x", "exp": T + 12 * 3600 + 1})
    assert api_error(response) == (400, "INVALID_ARGUMENT", SIGN_JWT_EXP_TEXT)


@pytest.mark.parametrize(
    "exp",
    [T - 1, T - 3600, T + 0.5, float(T + 60), str(T + 60), True, None, [T + 60]],
    ids=["1s-past", "1h-past", "fraction", "float", "string", "bool", "null", "list"],
)
def test_sign_jwt_exp_in_the_past_or_not_an_integer(google, issuer, exp):
    response = sign_jwt(google, issuer, {"sub": "x", "exp": exp})
    assert api_error(response) == (400, "INVALID_ARGUMENT", SIGN_JWT_EXP_TEXT)


def test_sign_jwt_exp_now_is_not_in_the_past(google, issuer):
    response = sign_jwt(google, issuer, {"sub": "x", "exp": T})
    assert response.status_code == 200, response.text


# --- The Google issuer and tokeninfo ---


def test_id_token_is_issued_now_for_one_hour(google, issuer):
    response = google.iamcredentials(
        SA, "generateIdToken", federated(google, issuer), {"audience": "a"}
    )
    claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
    assert (claims["iat"], claims["exp"]) == (T, T + 3600)


def tokeninfo(google: Google, **params: str) -> requests.Response:
    return requests.get(f"{google.url}/oauth2/v3/tokeninfo", params=params)


def test_tokeninfo_counts_an_access_token_down(google, issuer, clock):
    token = service_account_token(google, issuer, "600s")["accessToken"]
    clock.now = T + 100
    info = tokeninfo(google, access_token=token).json()
    assert (info["exp"], info["expires_in"]) == (str(T + 600), "500")
    clock.now = T + 599
    assert tokeninfo(google, access_token=token).json()["expires_in"] == "1"


def test_tokeninfo_forgets_an_expired_access_token(google, issuer, clock):
    token = service_account_token(google, issuer, "600s")["accessToken"]
    clock.now = T + 600
    response = tokeninfo(google, access_token=token)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_token", "error_description": "Invalid Value"},
    )


def id_token(google: Google, issuer: FakeIssuer) -> str:
    body = {"audience": "https://svc", "includeEmail": True}
    response = google.iamcredentials(SA, "generateIdToken", federated(google, issuer), body)
    return response.json()["token"]


def test_tokeninfo_reads_an_id_token_until_its_last_second(google, issuer, clock):
    token = id_token(google, issuer)
    clock.now = T + 3599
    response = tokeninfo(google, id_token=token)
    assert response.status_code == 200, response.text
    assert (response.json()["iat"], response.json()["exp"]) == (str(T), str(T + 3600))


def test_tokeninfo_refuses_an_expired_id_token(google, issuer, clock):
    token = id_token(google, issuer)
    clock.now = T + 3600
    response = tokeninfo(google, id_token=token)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_token", "error_description": "Invalid Value"},
    )
