"""Arbitrary request bodies at STS and IAM Credentials: a 4xx naming the problem, never a 5xx."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.mock_gcp.conftest import AUDIENCE, SA

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
sts_field_names = st.sampled_from(
    [
        "grant_type",
        "grantType",
        "audience",
        "scope",
        "requested_token_type",
        "requestedTokenType",
        "subject_token",
        "subjectToken",
        "subject_token_type",
        "subjectTokenType",
        "options",
    ]
) | st.text(max_size=12)
fuzz = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@fuzz
@given(body=st.dictionaries(sts_field_names, json_values, max_size=8))
def test_sts_json_bodies(google, body):
    response = google.session.post(f"{google.url}/v1/token", json=body)
    assert response.status_code < 500
    if response.status_code != 200:
        assert set(response.json()) == {"error", "error_description"}


@fuzz
@given(body=st.dictionaries(sts_field_names, st.text(max_size=40), max_size=8))
def test_sts_form_bodies(google, body):
    response = google.session.post(f"{google.url}/v1/token", data=body)
    assert response.status_code < 500


@fuzz
@given(
    token=st.text(max_size=200)
    | st.builds(lambda a, b, c: f"{a}.{b}.{c}", st.text(), st.text(), st.text())
)
def test_sts_arbitrary_subject_tokens(google, token):
    response = google.exchange(token, AUDIENCE)
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_grant", "invalid_request"}


@fuzz
@given(raw=st.binary(max_size=300))
def test_sts_raw_bytes(google, raw):
    for content_type in ("application/json", "application/x-www-form-urlencoded"):
        response = google.session.post(
            f"{google.url}/v1/token", data=raw, headers={"Content-Type": content_type}
        )
        assert response.status_code < 500


@fuzz
@given(
    method=st.sampled_from(["generateAccessToken", "generateIdToken", "signBlob", "signJwt"]),
    body=st.dictionaries(
        st.sampled_from(["delegates", "scope", "lifetime", "audience", "includeEmail", "payload"])
        | st.text(max_size=10),
        json_values,
        max_size=5,
    ),
)
def test_iamcredentials_bodies(google, issuer, method, body):
    token = _alice(google, issuer)
    response = google.iamcredentials(SA, method, token, body)
    assert response.status_code < 500
    if response.status_code != 200:
        assert {"code", "message", "status"} <= set(response.json()["error"])


@fuzz
@given(account=st.text(max_size=40), raw=st.binary(max_size=200))
def test_iamcredentials_paths_and_raw_bodies(google, issuer, account, raw):
    response = google.session.post(
        f"{google.url}/v1/projects/-/serviceAccounts/{account}:generateIdToken",
        data=raw,
        headers={
            "Authorization": f"Bearer {_alice(google, issuer)}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code < 500
    json.loads(response.text)  # always a JSON error body, never an HTML traceback


_cache: dict[str, str] = {}


def _alice(google, issuer) -> str:
    if "token" not in _cache:
        _cache["token"] = google.federated_token(issuer.mint())
    return _cache["token"]
