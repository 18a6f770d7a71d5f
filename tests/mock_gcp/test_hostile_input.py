"""Hostile input at STS and IAM Credentials: lone surrogates, deep nesting, NaN and Infinity.

Each test sends exactly the input an attacker would; every answer is a 400 in Google's shape,
never a 500 (before these fixes each raised: UnicodeEncodeError in the subject size check,
RecursionError past ``get_json(silent=True)``, NaN skipping every time rule).
"""

from __future__ import annotations

import json
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_gcp.sts.exchange import SecurityTokenService
from tests.mock_gcp.conftest import AUDIENCE, GROUP_SA, SA, FakeIssuer
from wiflab_core.keys import b64url

UNPARSABLE = "Unable to parse the ID Token."
fuzz = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def raw_token(issuer: FakeIssuer, payload: str) -> str:
    """A token signed by the issuer's key over exactly ``payload`` (no json.dumps between)."""
    key = issuer.rs256
    header = b64url(json.dumps({"alg": "RS256", "kid": key.kid, "typ": "JWT"}).encode())
    signing_input = f"{header}.{b64url(payload.encode('utf-8', 'surrogatepass'))}"
    return f"{signing_input}.{b64url(key.sign_bytes(signing_input.encode('ascii')))}"


def claims_text(issuer: FakeIssuer, **raw: str) -> str:
    """The issuer's usual claims as JSON text, with some members replaced by raw JSON text."""
    claims = issuer.claims()
    members = [
        f"{json.dumps(k)}: {raw.pop(k) if k in raw else json.dumps(v)}" for k, v in claims.items()
    ]
    members += [f"{json.dumps(k)}: {v}" for k, v in raw.items()]
    return "{" + ", ".join(members) + "}"


def refusal(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


# --- 1. lone surrogates in a subject token --------------------------------------------------


@fuzz
@given(
    claim=st.sampled_from(["sub", "mygroups", "org_id", "isadmin", "unmapped"]),
    code=st.integers(0xD800, 0xDFFF),
)
def test_a_lone_surrogate_in_any_claim_is_a_400(google, issuer, claim, code):
    escaped = f'"x\\u{code:04x}y"'
    value = f"[{escaped}]" if claim == "mygroups" else escaped
    response = google.exchange(raw_token(issuer, claims_text(issuer, **{claim: value})))
    assert refusal(response) == (400, "invalid_grant", UNPARSABLE)


def test_a_paired_surrogate_is_a_real_character_and_is_accepted(google, issuer):
    # "\ud83d\ude00" is U+1F600: JSON's way to write it, not a lone surrogate.
    token = raw_token(issuer, claims_text(issuer, sub='"alice\\ud83d\\ude00"'))
    assert google.exchange(token).status_code == 200


def test_the_decision_names_the_claim(google, issuer):
    token = raw_token(issuer, claims_text(issuer, sub='"\\ud800"'))
    outcome = SecurityTokenService(google.backend).decide(
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "audience": AUDIENCE,
            "scope": "https://www.googleapis.com/auth/cloud-platform",
            "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "subject_token": token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        }
    )
    check = outcome.decision.checks[-1]
    assert check.name == "token.structure" and not check.passed
    assert check.detail.startswith("sub: contains a lone UTF-16 surrogate")


# --- 4. NaN and Infinity in a subject token -------------------------------------------------


@pytest.mark.parametrize("claim", ["iat", "exp"])
@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_non_finite_time_is_a_400(google, issuer, claim, number):
    response = google.exchange(raw_token(issuer, claims_text(issuer, **{claim: number})))
    assert refusal(response) == (400, "invalid_grant", UNPARSABLE)


def test_nan_anywhere_in_the_token_is_a_400(google, issuer):
    response = google.exchange(raw_token(issuer, claims_text(issuer, extra='{"n": [NaN]}')))
    assert refusal(response) == (400, "invalid_grant", UNPARSABLE)


# --- 2. deep JSON ---------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [65, 2_472, 20_000])
def test_a_token_payload_nested_deep_is_a_400(google, issuer, levels):
    nested = "[" * levels + "]" * levels
    response = google.exchange(raw_token(issuer, claims_text(issuer, extra=nested)))
    assert refusal(response) == (400, "invalid_grant", UNPARSABLE)


def test_a_token_payload_nested_64_levels_is_accepted(google, issuer):
    # The whole payload is one level; 63 more inside it make 64, the limit.
    nested = "[" * 63 + "]" * 63
    response = google.exchange(raw_token(issuer, claims_text(issuer, extra=nested)))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("levels", [65, 5_000, 30_000])
def test_an_sts_json_body_nested_deep_is_a_400(google, levels):
    body = '{"audience": ' + "[" * levels + "]" * levels + "}"
    response = google.session.post(
        f"{google.url}/v1/token", data=body, headers={"Content-Type": "application/json"}
    )
    status, error, text = refusal(response)
    assert (status, error) == (400, "invalid_request")
    assert text == "Invalid JSON payload received. body: nested more than 64 levels deep"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('{"scope": NaN}', "body: not valid JSON (NaN is not a JSON number"),
        ('{"scope": 1e999}', "body: not valid JSON (1e999 is not a finite number"),
        ('{"audience": "\\udfff"}', "body.audience: contains a lone UTF-16 surrogate (\\udfff)"),
    ],
)
def test_an_sts_json_body_with_nan_or_a_surrogate_is_a_400(google, body, words):
    response = google.session.post(
        f"{google.url}/v1/token", data=body, headers={"Content-Type": "application/json"}
    )
    status, error, text = refusal(response)
    assert (status, error) == (400, "invalid_request")
    assert text.startswith(f"Invalid JSON payload received. {words}"), text


def test_sts_options_nested_deep_is_a_400(google, issuer):
    options = "[" * 2000 + "]" * 2000  # within the 4,096-character limit
    response = google.exchange(issuer.mint(), options=options)
    assert refusal(response) == (400, "invalid_request", 'Invalid value for "options".')


def iam_post(google, account: str, method: str, token: str, body: str) -> requests.Response:
    return google.session.post(
        f"{google.url}/v1/projects/-/serviceAccounts/{account}:{method}",
        data=body.encode("utf-8"),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


@pytest.fixture(scope="module")
def alice(google, issuer) -> str:
    return google.federated_token(issuer.mint())


@pytest.mark.parametrize("levels", [65, 5_000, 30_000])
def test_an_iam_credentials_body_nested_deep_is_a_400(google, alice, levels):
    body = '{"audience": ' + "[" * levels + "]" * levels + "}"
    response = iam_post(google, SA, "generateIdToken", alice, body)
    error = response.json()["error"]
    assert (response.status_code, error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["message"] == "Invalid JSON payload received. nested more than 64 levels deep"
    assert error["details"][0]["fieldViolations"][0]["field"] == "body"


@pytest.mark.parametrize(
    "body", ['{"audience": "a\\ud800"}', '{"audience": NaN}', '{"audience": "a", "x": -Infinity}']
)
def test_an_iam_credentials_body_with_a_surrogate_or_nan_is_a_400(google, alice, body):
    response = iam_post(google, SA, "generateIdToken", alice, body)
    error = response.json()["error"]
    assert (response.status_code, error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["message"].startswith("Invalid JSON payload received. ")


def sign_jwt(google, token: str, payload: str) -> requests.Response:
    return google.iamcredentials(GROUP_SA, "signJwt", token, {"payload": payload})


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ('{"sub": "a", "exp": NaN}', "payload: not valid JSON (NaN is not a JSON number"),
        ('{"sub": "a", "exp": Infinity}', "payload: not valid JSON (Infinity is not a JSON number"),
        ('{"sub": "a", "exp": 1e400}', "payload: not valid JSON (1e400 is not a finite number"),
        ('{"sub": "\\ud800"}', "payload.sub: contains a lone UTF-16 surrogate (\\ud800)"),
        ('{"a": ' + "[" * 2_472 + "]" * 2_472 + "}", "payload: nested more than 64 levels deep"),
    ],
)
def test_sign_jwt_refuses_what_is_not_json(google, alice, payload, problem):
    response = sign_jwt(google, alice, payload)
    error = response.json()["error"]
    assert (response.status_code, error["status"]) == (400, "INVALID_ARGUMENT"), response.text
    violation = error["details"][0]["fieldViolations"][0]
    assert violation["field"] == "payload"
    assert violation["description"].startswith(problem), violation


def test_sign_jwt_still_signs_an_ordinary_payload(google, alice):
    payload = json.dumps({"sub": "a", "exp": int(time.time()) + 600, "n": [1.5, {"k": "é"}]})
    assert sign_jwt(google, alice, payload).status_code == 200


@fuzz
@given(
    body=st.binary(max_size=300) | st.text(alphabet='[]{}"\\:,NaInfity0123e.- ud8', max_size=300)
)
def test_raw_bodies_at_every_endpoint_never_5xx(google, alice, body):
    data = body if isinstance(body, bytes) else body.encode()
    for path, headers in [
        ("/v1/token", {"Content-Type": "application/json"}),
        ("/v1/token", {"Content-Type": "application/x-www-form-urlencoded"}),
        (
            f"/v1/projects/-/serviceAccounts/{SA}:generateIdToken",
            {"Authorization": f"Bearer {alice}"},
        ),
        (
            f"/v1/projects/-/serviceAccounts/{GROUP_SA}:signJwt",
            {"Authorization": f"Bearer {alice}"},
        ),
        ("/v1/introspect", {"Content-Type": "application/json"}),
    ]:
        response = google.session.post(f"{google.url}{path}", data=data, headers=headers)
        assert response.status_code < 500, (path, response.text)
        assert "Traceback" not in response.text


# --- 7. bounds on what every issued token keeps ---------------------------------------------


@pytest.mark.parametrize(
    "scope",
    [
        "https://www.googleapis.com/auth/cloud-platform " + "x" * 63_000,
        " ".join(f"s{i}" for i in range(101)),
        "a" * 4097,
    ],
)
def test_an_sts_scope_too_long_or_too_many_is_refused(google, issuer, scope):
    response = google.exchange(issuer.mint(), scope=scope)
    assert refusal(response) == (400, "invalid_scope", 'Invalid value for "scope".')


def test_an_sts_scope_at_the_bounds_is_accepted(google, issuer):
    scopes = ["https://www.googleapis.com/auth/cloud-platform"] * 80
    scope = " ".join(scopes)
    assert len(scope) <= 4096 and len(scopes) <= 100
    assert google.exchange(issuer.mint(), scope=scope).status_code == 200


def test_generate_access_token_with_101_scopes_is_refused(google, alice):
    body = {"scope": [f"https://www.googleapis.com/auth/s{i}" for i in range(101)]}
    response = google.iamcredentials(SA, "generateAccessToken", alice, body)
    error = response.json()["error"]
    assert (response.status_code, error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["message"] == "Invalid value at 'scope' (TYPE_STRING), at most 100 values, got 101"
