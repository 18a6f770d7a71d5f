"""STS's texts for arbitrary claims: Google shows values as JSON (``null``, ``[]``), never as
Python would print them; and the rules of the second fidelity round, on a fixed clock."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_gcp.backend import GoogleBackend, LocalDeviations
from mock_gcp.sts.exchange import SecurityTokenService
from mock_gcp.topology import parse_topology
from wiflab_core import keys

T = 1_800_000_000
NUMBER = "123456789012"
POOL = f"projects/{NUMBER}/locations/global/workloadIdentityPools/pool-a"
ISSUER = "https://idp.example.com"
KEY = keys.generate("RS256")
OTHER_KEY = keys.generate("ES256")


def _topology(condition: str | None) -> Any:
    provider: dict[str, Any] = {
        "id": "uploaded",
        "attributeMapping": {"google.subject": "assertion.sub"},
        "oidc": {
            "issuerUri": ISSUER,
            "jwksJson": json.dumps(keys.render_jwks([KEY.public_jwk, OTHER_KEY.public_jwk])),
        },
    }
    if condition:
        provider["attributeCondition"] = condition
    return parse_topology(
        {
            "project": {"id": "demo-project", "number": NUMBER},
            "pools": [{"id": "pool-a", "providers": [provider]}],
        }
    )


def _service(condition: str | None = None) -> SecurityTokenService:
    deviations = LocalDeviations(google_issuer="http://127.0.0.1:1")
    return SecurityTokenService(GoogleBackend(_topology(condition), deviations, clock=lambda: T))


SERVICE = _service()
CONDITIONED = _service("assertion.tenant == 'acme'")
AUDIENCE = f"//iam.googleapis.com/{POOL}/providers/uploaded"


def _sign(claims: dict[str, Any], key: keys.SigningKey = KEY) -> str:
    """A JWS over any JSON claims (pyjwt's encode refuses some, such as a non-string iss)."""
    header = {"alg": key.alg, "kid": key.kid, "typ": "JWT"}
    signing_input = ".".join(
        keys.b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    return f"{signing_input}.{keys.b64url(key.sign_bytes(signing_input.encode()))}"


def _fields(token: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "audience": AUDIENCE,
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "subject_token": token,
        **extra,
    }


def _good(**overrides: Any) -> dict[str, Any]:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": T, "exp": T + 3600}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _text(service: SecurityTokenService, token: str, **extra: str) -> str:
    outcome = service.decide(_fields(token, **extra))
    assert outcome.error is not None, "accepted"
    return outcome.error.description


# What Python prints and JSON never does: None/True/False as words, quoted reprs, {' and [None].
PYTHON_REPR = re.compile(r"\b(None|True|False)\b|\{'|\['|'\]|: '|\[None")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet="abc xyz", max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet="abc", max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
# Each claim: left as in a good token, removed, or replaced by an arbitrary JSON value.
claim_choice = st.one_of(st.just("keep"), st.just("drop"), json_values)


@settings(
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    changes=st.fixed_dictionaries(
        {name: claim_choice for name in ("iss", "aud", "sub", "iat", "exp", "tenant")}
    ),
    conditioned=st.booleans(),
)
def test_no_sts_text_carries_a_python_repr(changes, conditioned):
    claims = _good(tenant="acme")
    for name, change in changes.items():
        if change == "drop":
            claims.pop(name, None)
        elif change != "keep":
            claims[name] = change
    outcome = (CONDITIONED if conditioned else SERVICE).decide(_fields(_sign(claims)))
    if outcome.error is not None:
        text = outcome.error.description
        assert not PYTHON_REPR.search(text), text
        assert "Traceback" not in text


def test_missing_claims_are_shown_as_google_shows_them():
    assert _text(SERVICE, _sign(_good(iss=None))) == (
        f"The issuer in ID Token null does not match the expected one in config: {ISSUER}"
    )
    assert _text(SERVICE, _sign(_good(aud=None))) == (
        "The audience in ID Token [] does not match the expected audience."
    )
    assert _text(SERVICE, _sign(_good(iat=None))) == (
        "ID Token issued at null is stale to sign-in."
    )
    assert _text(SERVICE, _sign(_good(exp=None))) == (
        f"ID Token issued at {T} is stale to sign-in."
    )


def test_an_issuer_that_is_not_a_string_is_shown_as_json():
    assert _text(SERVICE, _sign(_good(iss=["a", None]))) == (
        f'The issuer in ID Token ["a",null] does not match the expected one in config: {ISSUER}'
    )


def test_a_condition_that_cannot_be_evaluated_refuses_before_the_mapping():
    # R-GCP: no sub (the mapping's type error) and no tenant (the condition's missing claim):
    # the condition's text wins.
    assert _text(CONDITIONED, _sign(_good(sub=None))) == (
        "The given credential is rejected by the attribute condition."
    )
    # With the claim the condition reads, the mapping's error is the one left.
    assert _text(CONDITIONED, _sign(_good(sub=None, tenant="acme"))) == (
        "The mapped attribute 'google.subject' must be of type STRING."
    )


@pytest.mark.parametrize(
    ("iat", "exp"),
    [(T, T + 25 * 3600), (T, T + 365 * 86400), (T, T + 11 * 365 * 86400), (T - 86400, T + 1)],
)
def test_long_lived_tokens_are_accepted(iat, exp):
    outcome = SERVICE.decide(_fields(_sign(_good(iat=iat, exp=exp))))
    assert outcome.error is None, outcome.error and outcome.error.description


@pytest.mark.parametrize(("skew", "accepted"), [(60, True), (61, False), (119, False)])
def test_future_iat_within_the_skew(skew, accepted):
    outcome = SERVICE.decide(_fields(_sign(_good(iat=T + skew, exp=T + 3600))))
    if accepted:
        assert outcome.error is None
    else:
        assert outcome.error is not None
        assert outcome.error.description == f"ID Token issued at {T + skew} is stale to sign-in."


def test_options_up_to_four_mebibytes():
    token = _sign(_good())
    filler = "x" * (4 * 1024 * 1024 - len('{"a":""}'))
    fits = json.dumps({"a": filler}, separators=(",", ":"))
    assert len(fits) == 4 * 1024 * 1024
    assert SERVICE.decide(_fields(token, options=fits)).error is None
    over = json.dumps({"a": filler + "x"}, separators=(",", ":"))
    assert _text(SERVICE, token, options=over) == 'Invalid value for "options".'


INTERMEDIARY = "urn:ietf:params:oauth:token-type:access_boundary_intermediary_token"


def test_access_boundary_intermediary_token_carries_a_session_key():
    fields = _fields(_sign(_good()), requested_token_type=INTERMEDIARY)
    outcome = SERVICE.decide(fields)
    assert outcome.exchange is not None
    body = outcome.exchange.response(T)
    assert body["issued_token_type"] == INTERMEDIARY
    assert base64.b64decode(body["access_boundary_session_key"], validate=True)
    plain = SERVICE.decide(_fields(_sign(_good()))).exchange
    assert plain is not None
    assert "access_boundary_session_key" not in plain.response(T)


@pytest.mark.parametrize(("exp", "expires_in"), [(T + 1, 1), (T + 90, 90), (T + 7200, 3600)])
def test_expires_in_is_the_subject_tokens_time_left_at_most_an_hour(exp, expires_in):
    outcome = SERVICE.decide(_fields(_sign(_good(exp=exp))))
    assert outcome.exchange is not None
    assert outcome.exchange.response(T)["expires_in"] == expires_in
