"""One JWT verification (RFC 7519 section 7.2), with a typed reason for every refusal.

Every verifier in the lab (STS for subject tokens, Cloud Run's front end and the protected
app for Google's ID tokens, tokeninfo) calls ``verify`` with its own policy: algorithms,
issuers, audiences, leeway, required claims, the clock. Each maps the ``Reason`` to its own
words. pyjwt checks the structure and the signature; the claims are checked here, against
the ``now`` given (pyjwt would read the wall clock), in this order:

structure, kid, alg, issuer, key, key/alg match, signature, required claims, iat in the
future, nbf, lifetime, exp (and staleness), audience.

Each step is recorded as a ``Check`` named ``token.*``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.types import Options

from wiflab_core import json_limits
from wiflab_core.decisions import Check

KeyLookup = Callable[[str], jwt.PyJWK | None]
# The detail of a check a KeyNotChecked lookup skipped.
NOT_CHECKED = "not checked"
_TIME_CLAIMS = ("iat", "nbf", "exp")
_CLAIM_OPTIONS: Options = {
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}


class Reason(enum.Enum):
    MALFORMED = "malformed"
    NO_KID = "no kid"
    UNSUPPORTED_ALG = "unsupported alg"
    ISSUER_MISMATCH = "issuer mismatch"
    KEYS_UNAVAILABLE = "keys unavailable"
    UNKNOWN_KID = "unknown kid"
    ALG_KEY_MISMATCH = "alg/key mismatch"
    BAD_SIGNATURE = "bad signature"
    MISSING_CLAIM = "missing claim"
    INVALID_CLAIM = "invalid claim"
    ISSUED_IN_FUTURE = "issued in the future"
    NOT_YET_VALID = "not yet valid"
    LIFETIME_TOO_LONG = "lifetime too long"
    EXPIRED = "expired"
    STALE = "stale"
    BAD_AUDIENCE = "bad audience"


class KeysUnavailable(Exception):
    """A key lookup could not reach or read its keys; the message says which and why."""


class KeyNotChecked(Exception):
    """Raised by a key lookup that has, by design, no keys to offer: ``wiflab explain`` without
    a running stack. The key and the signature are then recorded as not checked (passed, with
    a detail saying why) and the claims are checked as decoded. No service raises it."""


@dataclass(frozen=True)
class Verified:
    header: Mapping[str, Any]
    claims: dict[str, Any]
    checks: tuple[Check, ...]


@dataclass
class TokenRejected(Exception):
    """Why the token was refused. ``header``/``claims`` as decoded (unverified), when they
    decode; ``claim`` names the claim concerned; ``checks`` end with the failed one."""

    reason: Reason
    detail: str
    header: Mapping[str, Any] = field(default_factory=dict)
    claims: Mapping[str, Any] = field(default_factory=dict)
    claim: str | None = None
    checks: tuple[Check, ...] = ()

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail}"


def verify(
    token: str,
    key_lookup: KeyLookup,
    *,
    algorithms: Collection[str],
    now: float,
    issuer: Collection[str] | None = None,
    audience: Collection[str] | None = None,
    leeway: float = 0,
    require: Collection[str] = (),
    max_lifetime: float | None = None,
    max_age: float | None = None,
    check_nbf: bool = True,
) -> Verified:
    """The token's claims, or ``TokenRejected``.

    ``issuer``/``audience`` None: not checked. ``require``: claims that must be present
    (time claims must also be numbers). ``max_lifetime``: exp - iat may not exceed it, nor
    may iat be older than it. ``max_age``: iat may not be older than it (whatever the
    lifetime: STS caps the age, not ``exp - iat``).
    """
    checks: list[Check] = []
    header: Mapping[str, Any] = {}
    claims: Mapping[str, Any] = {}

    def reject(reason: Reason, detail: str, claim: str | None = None) -> TokenRejected:
        return TokenRejected(reason, detail, header, claims, claim, tuple(checks))

    def check(name: str, passed: bool, expected: Any, actual: Any, detail: str = "") -> bool:
        checks.append(Check(name, passed, expected, actual, detail))
        return passed

    try:
        json_limits.check_jws_depth(token)
        parsed = jwt.decode_complete(token, options={"verify_signature": False})
        header, claims = parsed["header"], parsed["payload"]
        # NaN would skip every time rule; a lone surrogate breaks every later encoding.
        json_limits.check_value(header, "header")
        json_limits.check_value(claims, "")
    except (jwt.PyJWTError, json_limits.JsonInputError) as exc:
        check("token.structure", False, "a JWS compact JWT", None, str(exc))
        claim = exc.field if isinstance(exc, json_limits.JsonInputError) else None
        raise reject(Reason.MALFORMED, str(exc), claim or None) from None
    check("token.structure", True, "a JWS compact JWT", "a JWS compact JWT")
    kid = header.get("kid")
    if not check("token.kid", isinstance(kid, str) and bool(kid), "a kid", kid):
        raise reject(Reason.NO_KID, "the token's header has no kid")
    assert isinstance(kid, str)
    oldest = max_lifetime if max_age is None else max_age
    alg = header.get("alg")
    if not check("token.alg", alg in algorithms, sorted(algorithms), alg):
        raise reject(Reason.UNSUPPORTED_ALG, f"alg {alg!r} is not one of {', '.join(algorithms)}")
    if issuer is not None:
        iss = claims.get("iss")
        if not check("token.issuer", iss in issuer, list(issuer), iss):
            raise reject(Reason.ISSUER_MISMATCH, f"iss {iss!r} is not {', '.join(issuer)}", "iss")
    try:
        key = key_lookup(kid)
    except KeysUnavailable as exc:
        check("token.key", False, f"a key with kid {kid}", None, str(exc))
        raise reject(Reason.KEYS_UNAVAILABLE, str(exc)) from None
    except KeyNotChecked as exc:
        check("token.key", True, f"a key with kid {kid}", None, f"{NOT_CHECKED}: {exc}")
        check("token.signature", True, "valid", None, f"{NOT_CHECKED}: {exc}")
        _check_claims(claims, check, reject, now, leeway, require, max_lifetime, oldest, check_nbf)
        _check_audience(claims, check, reject, audience)
        return Verified(header, dict(claims), tuple(checks))
    if not check(
        "token.key", key is not None, f"a key with kid {kid}", None if key is None else kid
    ):
        raise reject(Reason.UNKNOWN_KID, f"no key {kid!r}")
    assert key is not None
    if not check("token.key.alg", key.algorithm_name == alg, key.algorithm_name, alg):
        # An RS256 key presented as ES256 (or the reverse) is an algorithm confusion.
        raise reject(
            Reason.ALG_KEY_MISMATCH, f"key {kid!r} is {key.algorithm_name}, token says {alg}"
        )
    try:
        verified = jwt.decode(token, key, algorithms=[str(alg)], options=_CLAIM_OPTIONS)
    except jwt.PyJWTError as exc:
        check("token.signature", False, "valid", "invalid", str(exc))
        raise reject(Reason.BAD_SIGNATURE, str(exc)) from None
    check("token.signature", True, "valid", "valid")
    claims = verified
    _check_claims(claims, check, reject, now, leeway, require, max_lifetime, oldest, check_nbf)
    _check_audience(claims, check, reject, audience)
    return Verified(header, verified, tuple(checks))


def _check_audience(
    claims: Mapping[str, Any],
    check: Callable[..., bool],
    reject: Callable[..., TokenRejected],
    audience: Collection[str] | None,
) -> None:
    if audience is None:
        return
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if not check(
        "token.audience",
        any(isinstance(a, str) and a in audience for a in audiences),
        sorted(audience),
        aud,
    ):
        raise reject(Reason.BAD_AUDIENCE, f"aud {aud!r} is not one of the expected", "aud")


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_claims(
    claims: Mapping[str, Any],
    check: Callable[..., bool],
    reject: Callable[..., TokenRejected],
    now: float,
    leeway: float,
    require: Collection[str],
    max_lifetime: float | None,
    max_age: float | None,
    check_nbf: bool,
) -> None:
    for name in require:
        present = claims.get(name) is not None
        if not check(f"token.{name}", present, "present", claims.get(name)):
            raise reject(Reason.MISSING_CLAIM, f"no {name} claim", name)
    for name in _TIME_CLAIMS:
        value = claims.get(name)
        if value is None or (name == "nbf" and not check_nbf):
            continue
        if not check(f"token.{name}", _numeric(value), "a NumericDate", value):
            raise reject(Reason.INVALID_CLAIM, f"{name} is not a number", name)
    iat, nbf, exp = (claims.get(name) for name in _TIME_CLAIMS)
    latest = now + leeway
    if iat is not None and not check("token.iat", iat <= latest, f"<= {_seconds(latest)}", iat):
        raise reject(Reason.ISSUED_IN_FUTURE, f"iat {iat} is after now ({_seconds(now)})", "iat")
    nbf_ok = (
        not check_nbf
        or nbf is None
        or check("token.nbf", nbf <= latest, f"<= {_seconds(latest)}", nbf)
    )
    if not nbf_ok:
        raise reject(Reason.NOT_YET_VALID, f"nbf {nbf} is after now ({_seconds(now)})", "nbf")
    if max_lifetime is not None and iat is not None and exp is not None:
        lifetime = exp - iat
        if not check("token.lifetime", lifetime <= max_lifetime, max_lifetime, lifetime):
            raise reject(
                Reason.LIFETIME_TOO_LONG, f"exp - iat exceeds {_seconds(max_lifetime)} s", "exp"
            )
    earliest = now - leeway
    if exp is not None and not check("token.exp", exp > earliest, f"> {_seconds(earliest)}", exp):
        raise reject(Reason.EXPIRED, f"exp {exp} is not after now ({_seconds(now)})", "exp")
    if max_age is not None and iat is not None:
        oldest = now - max_age
        if not check("token.iat.age", iat >= oldest, f">= {_seconds(oldest)}", iat):
            raise reject(Reason.STALE, f"iat {iat} is more than {_seconds(max_age)} s ago", "iat")


def _seconds(value: float) -> str:
    """A time or duration as people read it: whole seconds without an exponent."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"
