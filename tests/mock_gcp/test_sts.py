"""STS token exchange over HTTP: the encodings clients send, and every refusal in Google's words."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import jwt
import pytest

from tests.mock_gcp.conftest import (
    ACCESS_TOKEN_TYPE,
    AUDIENCE,
    CLOUD_PLATFORM,
    JWT_TYPE,
    POOL,
    PROJECT_NUMBER,
    TOKEN_EXCHANGE,
    serve_google,
)
from wiflab_core import keys


def test_exchange_returns_a_federated_token(google, issuer):
    response = google.exchange(issuer.mint())
    assert response.status_code == 200
    body = response.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["token_type"] == "Bearer"
    assert 3590 <= body["expires_in"] <= 3600
    issued = google.backend.tokens.lookup(body["access_token"])
    assert (
        issued.caller.principal()
        == f"principal://iam.googleapis.com/{POOL}/subject/alice@domain.com"
    )
    assert issued.caller.groups == ("admins",)


def test_federated_token_never_outlives_the_subject_token(google, issuer):
    body = google.exchange(issuer.mint(exp=int(time.time()) + 600)).json()
    assert 590 <= body["expires_in"] <= 600


def test_es256_subject_token_is_accepted(google, issuer):
    assert google.exchange(issuer.mint(key=issuer.es256)).status_code == 200


def test_json_camel_case_as_github_actions_sends_it(google, issuer):
    body = {
        "audience": AUDIENCE,
        "grantType": TOKEN_EXCHANGE,
        "requestedTokenType": ACCESS_TOKEN_TYPE,
        "scope": CLOUD_PLATFORM,
        "subjectTokenType": JWT_TYPE,
        "subjectToken": issuer.mint(),
    }
    response = google.session.post(f"{google.url}/v1/token", json=body)
    assert response.status_code == 200, response.text


def test_json_snake_case(google, issuer):
    body = {
        "audience": AUDIENCE,
        "grant_type": TOKEN_EXCHANGE,
        "requested_token_type": ACCESS_TOKEN_TYPE,
        "scope": CLOUD_PLATFORM,
        "subject_token_type": JWT_TYPE,
        "subject_token": issuer.mint(),
    }
    assert google.session.post(f"{google.url}/v1/token", json=body).status_code == 200


def test_options_double_encoded_as_google_auth_sends_them(google, issuer):
    options = quote(json.dumps({"userProject": "demo-project"}))
    assert google.exchange(issuer.mint(), options=options).status_code == 200


def test_audience_with_https_prefix_in_token_is_accepted(google, issuer):
    token = issuer.mint(
        aud="https://iam.googleapis.com/" + AUDIENCE.removeprefix("//iam.googleapis.com/")
    )
    assert google.exchange(token).status_code == 200


def test_allowed_audiences_replace_the_default(google, issuer):
    audience = f"//iam.googleapis.com/{POOL}/providers/custom-aud"
    assert google.exchange(issuer.mint(aud="my-audience"), audience).status_code == 200
    refused = google.exchange(issuer.mint(aud=audience), audience)
    assert refused.json()["error_description"] == (
        f"The audience in ID Token [{audience}] does not match the expected audience."
    )


def test_uploaded_jwks_verifies_without_fetching(google, issuer, uploaded_key):
    audience = f"//iam.googleapis.com/{POOL}/providers/uploaded-jwks"
    token = issuer.mint(key=uploaded_key, iss="https://idp.example.com", aud=audience)
    assert google.exchange(token, audience).status_code == 200


# Google's texts, word for word (reference/gcp-wif-behaviour.md).
BAD_AUDIENCE = (
    'Invalid value for "audience". This value should be the full resource name of the '
    "Identity Provider. See https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/"
    "token for the list of possible formats."
)
BAD_TARGET = (
    'The target service indicated by the "audience" parameters is invalid. This might either '
    "be because the pool or provider is disabled or deleted or because it doesn't exist."
)
CONDITION_REJECTED = "The given credential is rejected by the attribute condition."
ISSUER_UNREACHABLE = "Error connecting to the given credential's issuer."


def refusal(response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def test_project_id_instead_of_number(google, issuer):
    audience = AUDIENCE.replace(PROJECT_NUMBER, "demo-project")
    assert refusal(google.exchange(issuer.mint(), audience)) == (
        400,
        "invalid_request",
        BAD_AUDIENCE,
    )


@pytest.mark.parametrize(
    "audience",
    [
        "",
        "test-pool",
        f"https://iam.googleapis.com/{POOL}/providers/lab-idp",
        f"//iam.googleapis.com/{POOL}/providers/lab-idp/extra",
    ],
)
def test_malformed_audience(google, issuer, audience):
    assert refusal(google.exchange(issuer.mint(), audience)) == (
        400,
        "invalid_request",
        BAD_AUDIENCE,
    )


@pytest.mark.parametrize(
    "audience",
    [
        f"//iam.googleapis.com/{POOL}/providers/nope",
        AUDIENCE.replace("test-pool", "no-pool"),
        AUDIENCE.replace(PROJECT_NUMBER, "999999999999"),
        f"//iam.googleapis.com/{POOL}/providers/off-provider",
        AUDIENCE.replace("test-pool", "off-pool"),
    ],
    ids=["unknown provider", "unknown pool", "other project", "disabled provider", "disabled pool"],
)
def test_unknown_or_disabled_target(google, issuer, audience):
    assert refusal(google.exchange(issuer.mint(), audience)) == (
        400,
        "invalid_target",
        BAD_TARGET,
    )


def test_wrong_audience_in_token(google, issuer):
    status, error, text = refusal(google.exchange(issuer.mint(aud="https://example.com")))
    assert (status, error) == (400, "invalid_grant")
    assert (
        text
        == "The audience in ID Token [https://example.com] does not match the expected audience."
    )


def test_wrong_issuer(google, issuer):
    status, error, text = refusal(google.exchange(issuer.mint(iss="https://evil.example.com")))
    assert (status, error) == (400, "invalid_grant")
    assert text == (
        "The issuer in ID Token https://evil.example.com does not match the expected one in "
        "config: " + issuer.url
    )


def test_expired_token_is_stale(google, issuer):
    iat = int(time.time()) - 7200
    response = google.exchange(issuer.mint(iat=iat, exp=iat + 3600))
    assert refusal(response) == (
        400,
        "invalid_grant",
        f"ID Token issued at {iat} is stale to sign-in.",
    )


def test_iat_from_two_days_ago_is_stale(google, issuer):
    iat = int(time.time()) - 2 * 86400
    response = google.exchange(issuer.mint(iat=iat, exp=iat + 86400))
    assert refusal(response) == (
        400,
        "invalid_grant",
        f"ID Token issued at {iat} is stale to sign-in.",
    )


def test_future_iat(google, issuer):
    iat = int(time.time()) + 3600
    response = google.exchange(issuer.mint(iat=iat, exp=iat + 3600))
    assert refusal(response) == (
        400,
        "invalid_grant",
        f"ID Token issued at {iat} is stale to sign-in.",
    )


@pytest.mark.parametrize("lifetime", [25 * 3600, 365 * 86400, 11 * 365 * 86400])
def test_no_cap_on_the_lifetime(google, issuer, lifetime):
    # R-GCP: 25 h, 1 y and 11 y tokens accepted; only iat's age is bounded.
    now = int(time.time())
    response = google.exchange(issuer.mint(iat=now, exp=now + lifetime))
    assert response.status_code == 200, response.text
    assert 3590 <= response.json()["expires_in"] <= 3600


def test_missing_iat(google, issuer):
    assert refusal(google.exchange(issuer.mint(iat=None))) == (
        400,
        "invalid_grant",
        "ID Token issued at null is stale to sign-in.",
    )


def test_missing_exp_quotes_the_iat(google, issuer):
    iat = int(time.time())
    assert refusal(google.exchange(issuer.mint(iat=iat, exp=None))) == (
        400,
        "invalid_grant",
        f"ID Token issued at {iat} is stale to sign-in.",
    )


def test_missing_iss_is_shown_as_null(google, issuer):
    assert refusal(google.exchange(issuer.mint(iss=None))) == (
        400,
        "invalid_grant",
        f"The issuer in ID Token null does not match the expected one in config: {issuer.url}",
    )


def test_missing_aud_is_shown_as_an_empty_list(google, issuer):
    assert refusal(google.exchange(issuer.mint(aud=None))) == (
        400,
        "invalid_grant",
        "The audience in ID Token [] does not match the expected audience.",
    )


@pytest.mark.parametrize("padding", ["\n", "\r\n", "  ", " \t", "\n\n"])
def test_whitespace_around_the_subject_token_does_not_matter(google, issuer, padding):
    response = google.exchange(padding + issuer.mint() + padding)
    assert response.status_code == 200, response.text


def test_unknown_kid(google, issuer):
    stranger = keys.generate("RS256")
    assert refusal(google.exchange(issuer.mint(key=stranger))) == (
        400,
        "invalid_grant",
        "Error connecting to the given credential's issuer.",
    )


def test_tampered_signature(google, issuer):
    header, _payload, signature = issuer.mint().split(".")
    forged_claims = jwt.utils.base64url_encode(
        json.dumps({**issuer.claims(), "sub": "mallory@domain.com"}).encode()
    ).decode()
    response = google.exchange(f"{header}.{forged_claims}.{signature}")
    assert refusal(response) == (400, "invalid_grant", "Unable to verify the ID Token signature.")


def test_missing_kid(google, issuer):
    token = jwt.encode(issuer.claims(), issuer.rs256.private, algorithm="RS256")
    assert refusal(google.exchange(token)) == (
        400,
        "invalid_grant",
        "The ID Token header has no kid.",
    )


def test_alg_none_is_refused(google, issuer):
    token = jwt.encode(issuer.claims(), None, algorithm="none", headers={"kid": issuer.rs256.kid})
    status, error, text = refusal(google.exchange(token))
    assert (status, error) == (400, "invalid_grant")
    assert "unsupported algorithm none" in text


def test_hs256_key_confusion_is_refused(google, issuer):
    # The classic attack: HMAC-sign with the RSA public key as the secret.
    secret = issuer.rs256.public_pem().encode()
    header = {"kid": issuer.rs256.kid, "alg": "HS256"}
    signing_input = (
        jwt.utils.base64url_encode(json.dumps(header).encode())
        + b"."
        + jwt.utils.base64url_encode(json.dumps(issuer.claims()).encode())
    )
    import hashlib
    import hmac

    signature = jwt.utils.base64url_encode(hmac.new(secret, signing_input, hashlib.sha256).digest())
    token = (signing_input + b"." + signature).decode()
    status, error, text = refusal(google.exchange(token))
    assert (status, error) == (400, "invalid_grant")
    assert "unsupported algorithm HS256" in text


def test_es256_header_on_rsa_key_is_refused(google, issuer):
    token = issuer.es256.sign(issuer.claims(), headers={"kid": issuer.rs256.kid})
    assert refusal(google.exchange(token)) == (
        400,
        "invalid_grant",
        "Error connecting to the given credential's issuer.",
    )


def test_not_a_jwt(google):
    assert refusal(google.exchange("not-a-token")) == (
        400,
        "invalid_grant",
        "Unable to parse the ID Token.",
    )


def test_subject_over_127_bytes(google, issuer):
    status, error, text = refusal(google.exchange(issuer.mint(sub="é" * 64)))
    assert (status, error) == (400, "invalid_request")
    assert text.startswith(
        "The size of mapped attribute google.subject exceeds the 127 bytes limit."
    )


def test_condition_false(google, issuer):
    response = google.exchange(issuer.mint(isadmin="false"))
    assert refusal(response) == (400, "unauthorized_client", CONDITION_REJECTED)


def test_condition_that_fails_to_evaluate_rejects(google, issuer):
    audience = f"//iam.googleapis.com/{POOL}/providers/bad-condition"
    status, error, _ = refusal(google.exchange(issuer.mint(aud=audience), audience))
    assert (status, error) == (400, "unauthorized_client")


def test_unreachable_issuer(google, issuer):
    audience = f"//iam.googleapis.com/{POOL}/providers/unreachable"
    token = issuer.mint(iss="https://127.0.0.1:9", aud=audience)
    assert refusal(google.exchange(token, audience)) == (
        400,
        "invalid_grant",
        ISSUER_UNREACHABLE,
    )


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("grant_type", "client_credentials", "unsupported_grant_type"),
        ("requested_token_type", "urn:ietf:params:oauth:token-type:id_token", "invalid_request"),
        ("subject_token_type", "urn:ietf:params:aws:token-type:aws4_request", "invalid_request"),
        ("scope", "", "invalid_scope"),
        ("options", "{not json", "invalid_request"),
        ("options", json.dumps({"userProject": "x" * 33}), "invalid_request"),
    ],
)
def test_bad_fields_are_named(google, issuer, field, value, error):
    status, code, text = refusal(google.exchange(issuer.mint(), **{field: value}))
    assert (status, code) == (400, error)
    assert field in text


def test_json_body_that_is_not_an_object(google):
    response = google.session.post(
        f"{google.url}/v1/token", data="[1]", headers={"Content-Type": "application/json"}
    )
    assert refusal(response) == (400, "invalid_request", "Invalid JSON payload received.")


def test_key_rotation_at_the_issuer_is_picked_up(topology, issuer):
    # A Google of its own: the shared one may have refetched for an unknown kid within the
    # cooldown (wiflab_core.jwks_cache.REFETCH_COOLDOWN), and would answer unknown from cache.
    server, google = serve_google(topology, issuer.url)
    with server:
        assert google.exchange(issuer.mint()).status_code == 200  # the JWKS is now cached
        rotated = keys.generate("RS256")
        issuer.published.append(rotated)
        try:
            assert google.exchange(issuer.mint(key=rotated)).status_code == 200
        finally:
            issuer.published.remove(rotated)


def test_numeric_subject_is_refused_by_the_mapping_not_the_signature(google, issuer):
    status, error, text = refusal(google.exchange(issuer.mint(sub=12345)))
    assert (status, error) == (400, "unauthorized_client")
    assert text == "The mapped attribute 'google.subject' must be of type STRING."


def test_introspection_names_the_federated_principal(google, issuer):
    token = google.federated_token(issuer.mint())
    response = google.session.post(
        f"{google.url}/v1/introspect",
        data={"token": token, "token_type_hint": ACCESS_TOKEN_TYPE},
        auth=("gcloud-client", "secret"),
    )
    body = response.json()
    assert body["active"] is True
    assert body["username"] == f"principal://iam.googleapis.com/{POOL}/subject/alice@domain.com"
    assert body["scope"] == CLOUD_PLATFORM
    assert body["exp"] - body["iat"] in range(3590, 3601)


def test_introspection_of_an_unknown_token_is_inactive(google):
    response = google.session.post(
        f"{google.url}/v1/introspect", data={"token": "ya29.nope"}, auth=("c", "s")
    )
    assert (response.status_code, response.json()) == (200, {"active": False})


def test_introspection_needs_client_authentication(google, issuer):
    token = google.federated_token(issuer.mint())
    response = google.session.post(f"{google.url}/v1/introspect", data={"token": token})
    assert refusal(response) == (401, "invalid_client", "Client authentication is required.")


def test_options_of_four_mebibytes_pass_over_http(google, issuer):
    # sts.v1.json: options "must not exceed 4 * 1024 * 1024 characters"; the app's 64 KiB
    # body limit must not refuse it first.
    options = json.dumps({"userProject": "demo-project", "x": "y" * (4 * 1024 * 1024 - 64)})
    response = google.exchange(issuer.mint(), options=options)
    assert response.status_code == 200, response.text[:200]


def test_access_boundary_intermediary_token_over_http(google, issuer):
    intermediary = "urn:ietf:params:oauth:token-type:access_boundary_intermediary_token"
    response = google.exchange(issuer.mint(), requested_token_type=intermediary)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["issued_token_type"] == intermediary
    assert body["access_boundary_session_key"]
