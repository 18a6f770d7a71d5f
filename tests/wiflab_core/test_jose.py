"""The one JWT verify: a typed reason for every refusal, times against the clock given."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest

from wiflab_core import keys
from wiflab_core.decisions import Check, Decision, Refusal
from wiflab_core.jose import (
    KeyNotChecked,
    KeysUnavailable,
    Reason,
    TokenRejected,
    Verified,
    verify,
)

NOW = 1_700_000_000
RSA = keys.generate("RS256")
EC = keys.generate("ES256")
PUBLISHED = keys.VerificationKeys(keys.render_jwks([RSA.public_jwk, EC.public_jwk]))
ISSUER = "https://idp.example"
AUDIENCE = "https://svc.example"


def claims(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": NOW - 10,
        "exp": NOW + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def check(
    token: str,
    *,
    leeway: float = 60,
    require: tuple[str, ...] = ("iat", "exp"),
    max_lifetime: float | None = 86400,
    check_nbf: bool = True,
) -> Verified:
    return verify(
        token,
        PUBLISHED.get,
        algorithms=("RS256", "ES256"),
        now=NOW,
        issuer=(ISSUER,),
        audience=(AUDIENCE,),
        leeway=leeway,
        require=require,
        max_lifetime=max_lifetime,
        check_nbf=check_nbf,
    )


def reason(token: str, **policy: Any) -> Reason:
    with pytest.raises(TokenRejected) as rejected:
        check(token, **policy)
    assert rejected.value.checks[-1].passed is False  # the failed check ends the list
    return rejected.value.reason


def test_a_good_token_gives_its_claims_and_every_check_passed() -> None:
    verified = check(RSA.sign(claims()))
    assert verified.claims["sub"] == "alice"
    assert all(c.passed for c in verified.checks)
    names = [c.name for c in verified.checks]
    assert names[:5] == ["token.structure", "token.kid", "token.alg", "token.issuer", "token.key"]
    assert names[-1] == "token.audience"


def test_structure_kid_alg_issuer_key_signature() -> None:
    assert reason("not-a-jwt") is Reason.MALFORMED
    assert reason(jwt.encode(claims(), RSA.private, algorithm="RS256")) is Reason.NO_KID
    hs = jwt.encode(
        claims(),
        "a-shared-secret-of-at-least-32-bytes",
        algorithm="HS256",
        headers={"kid": RSA.kid},
    )
    assert reason(hs) is Reason.UNSUPPORTED_ALG
    assert reason(RSA.sign(claims(iss="https://evil.example"))) is Reason.ISSUER_MISMATCH
    assert reason(keys.generate("RS256").sign(claims())) is Reason.UNKNOWN_KID
    confused = EC.sign(claims(), headers={"kid": RSA.kid})
    assert reason(confused) is Reason.ALG_KEY_MISMATCH
    forged = keys.generate("RS256").sign(claims(), headers={"kid": RSA.kid})
    assert reason(forged) is Reason.BAD_SIGNATURE


def test_an_unreachable_key_source_is_its_own_reason() -> None:
    def unreachable(kid: str) -> None:
        raise KeysUnavailable("GET https://idp.example/jwks: ConnectionError")

    with pytest.raises(TokenRejected) as rejected:
        verify(RSA.sign(claims()), unreachable, algorithms=("RS256",), now=NOW)
    assert rejected.value.reason is Reason.KEYS_UNAVAILABLE
    assert "ConnectionError" in rejected.value.detail


def test_a_lookup_without_keys_by_design_skips_only_key_and_signature() -> None:
    def no_keys(kid: str) -> None:
        raise KeyNotChecked("no running stack")

    def verify_without_keys(token: str) -> Verified:
        return verify(
            token, no_keys, algorithms=("RS256",), now=NOW, issuer=(ISSUER,), audience=(AUDIENCE,)
        )

    forged = keys.generate("RS256").sign(claims(), headers={"kid": RSA.kid})
    verified = verify_without_keys(forged)
    shown = {c.name: c for c in verified.checks}
    assert shown["token.signature"].detail == "not checked: no running stack"
    assert shown["token.key"].detail == "not checked: no running stack"
    assert verified.claims["sub"] == "alice"
    # Everything else is still checked: times, audience, issuer.
    for bad, why in [
        (claims(iat=NOW - 3600, exp=NOW - 1), Reason.EXPIRED),
        (claims(aud="https://other.example"), Reason.BAD_AUDIENCE),
        (claims(iss="https://evil.example"), Reason.ISSUER_MISMATCH),
    ]:
        with pytest.raises(TokenRejected) as rejected:
            verify_without_keys(RSA.sign(bad))
        assert rejected.value.reason is why


def test_time_boundaries_with_leeway() -> None:
    # exp: valid while exp > now - leeway
    assert check(RSA.sign(claims(iat=NOW - 3600, exp=NOW - 59)))
    assert reason(RSA.sign(claims(iat=NOW - 3600, exp=NOW - 60))) is Reason.EXPIRED
    # iat: at most now + leeway
    assert check(RSA.sign(claims(iat=NOW + 60, exp=NOW + 600)))
    assert reason(RSA.sign(claims(iat=NOW + 61, exp=NOW + 600))) is Reason.ISSUED_IN_FUTURE
    # nbf, unless not checked
    assert reason(RSA.sign(claims(nbf=NOW + 61))) is Reason.NOT_YET_VALID
    assert check(RSA.sign(claims(nbf=NOW + 61)), check_nbf=False)
    # lifetime and staleness against max_lifetime
    assert check(RSA.sign(claims(iat=NOW - 10, exp=NOW - 10 + 86400)))
    long_lived = RSA.sign(claims(iat=NOW - 10, exp=NOW - 9 + 86400))
    assert reason(long_lived) is Reason.LIFETIME_TOO_LONG
    assert check(RSA.sign(claims(iat=NOW - 86400, exp=NOW - 1)), leeway=60)
    assert reason(RSA.sign(claims(iat=NOW - 86401, exp=NOW - 1))) is Reason.STALE


def test_required_and_typed_claims() -> None:
    with pytest.raises(TokenRejected) as rejected:
        check(RSA.sign(claims(iat=None)))
    assert (rejected.value.reason, rejected.value.claim) == (Reason.MISSING_CLAIM, "iat")
    with pytest.raises(TokenRejected) as rejected:
        check(RSA.sign(claims(exp="tomorrow")))
    assert (rejected.value.reason, rejected.value.claim) == (Reason.INVALID_CLAIM, "exp")


def test_audience_is_any_of_a_list() -> None:
    assert check(RSA.sign(claims(aud=["other", AUDIENCE])))
    assert reason(RSA.sign(claims(aud="https://other.example"))) is Reason.BAD_AUDIENCE
    assert reason(RSA.sign(claims(aud=None)), require=("iat", "exp", "aud")) is Reason.MISSING_CLAIM


def test_decisions_are_json_with_tokens_shortened() -> None:
    token = RSA.sign(claims())
    decision = Decision(
        "sts",
        "exchange",
        (Check("token.audience", False, [AUDIENCE], f"Bearer {token}"),),
        Refusal(400, "invalid_grant", "The audience in ID Token [x] does not match."),
    )
    body = json.loads(json.dumps(decision.to_json()))
    assert body["outcome"] == "refused" and body["refusal"]["code"] == "invalid_grant"
    assert token not in json.dumps(body)
    assert body["checks"][0]["actual"].endswith("chars)")
    assert decision.failed is decision.checks[0] and not decision.allowed
