"""Who called: the bearer token's claims, and who (if anyone) vouches for them.

A bad token is never an HTTP error here. /dump is a dump: it answers 200 with whatever it
could see (which header, the JOSE header and claims when they decode) plus ``verified:
false`` and an ``error`` saying why (expired, wrong audience, unknown kid, bad signature,
malformed, ...). Refusing callers is the Cloud Run front end's job, not the dump's.

The token is looked for where Cloud Run looks: ``X-Serverless-Authorization`` if present,
else ``Authorization``. Nothing here logs a token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import jwt

from protected_app.settings import Settings, VerifyMode
from wiflab_core import jose, json_limits
from wiflab_core.bearer import RequestHeaders, bearer_token, credential_header
from wiflab_core.jose import Reason
from wiflab_core.jwks_cache import JwksCache
from wiflab_core.wire import SIGNATURE_REMOVED

# How long a fetched JWKS is trusted before it is fetched again; an unknown kid forces one
# earlier refetch (then stays unknown for a while: the one JWKS cache's rule).
JWKS_LIFESPAN_SECONDS = 300
JWKS_FETCH_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Identity:
    verified: bool
    by: str | None = None
    header: str | None = None
    jose_header: Mapping[str, Any] | None = None
    claims: Mapping[str, Any] | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "verified": self.verified,
            "by": self.by,
            "header": self.header,
            "jose_header": self.jose_header,
            "claims": self.claims,
        }
        if self.error:
            body["error"] = self.error
        return body


class Verifier(Protocol):
    def check(self, token: str, jose_header: Mapping[str, Any]) -> Identity:
        """Verified (with ``by``) or not (with ``error``); header and claims are added later."""
        ...


def identify(headers: RequestHeaders, verifier: Verifier) -> Identity:
    name = credential_header(headers)
    if name is None:
        return Identity(
            False, error="no token: neither X-Serverless-Authorization nor Authorization is set"
        )
    token = bearer_token(headers[name])
    if token is None:
        return Identity(False, header=name, error=f'malformed: {name} is not "Bearer <token>"')
    try:
        # Nesting bounded before pyjwt parses; NaN and lone surrogates are not shown as claims.
        json_limits.check_jws_depth(token)
        jose_header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
        json_limits.check_value(jose_header, "header")
        json_limits.check_value(claims, "claims")
    except (jwt.PyJWTError, json_limits.JsonInputError) as exc:
        return Identity(False, header=name, error=f"malformed: {exc}")
    result = verifier.check(token, jose_header)
    return Identity(
        result.verified,
        result.by,
        name,
        jose_header,
        claims,
        None if result.verified else result.error,
    )


class DecodeOnly:
    """PROTECTED_APP_VERIFY=none: show the claims, vouch for nothing."""

    def check(self, token: str, jose_header: Mapping[str, Any]) -> Identity:
        return Identity(
            False, error="not verified: PROTECTED_APP_VERIFY=none only decodes the token"
        )


class CloudRunMarker:
    """On Cloud Run the front end has verified the token and removed its signature.

    Only that marker proves the front end checked it: a token that still carries a real
    signature reached the app some other way (a public service passes headers untouched).
    """

    BY = "Cloud Run front end (signature removed by Google)"

    def check(self, token: str, jose_header: Mapping[str, Any]) -> Identity:
        if token.rsplit(".", 1)[-1] == SIGNATURE_REMOVED:
            return Identity(True, self.BY)
        return Identity(
            False,
            error=f"not verified: the signature is not {SIGNATURE_REMOVED}, "
            "so the Cloud Run front end did not check this token",
        )


class JwksVerifier:
    """Verify signature, issuer, audience and lifetime against an issuer's JWKS.

    Keys come from the one JWKS cache (``wiflab_core.jwks_cache``): fetched once, never per
    request; an unknown kid triggers one refetch, which picks up rotation. Times are read
    from ``clock``.
    """

    def __init__(
        self,
        jwks_url: str,
        issuers: Sequence[str],
        audiences: Sequence[str],
        algorithms: Sequence[str],
        by: str,
        clock: Callable[[], float] = time.time,
    ):
        cache = JwksCache(ttl=JWKS_LIFESPAN_SECONDS, timeout=JWKS_FETCH_TIMEOUT_SECONDS)
        self._keys = cache.lookup(jwks_url)
        self._jwks_url = jwks_url
        self._issuers = tuple(issuers)
        self._audiences = tuple(audiences)
        self._algorithms = tuple(algorithms)
        self._by = by
        self._clock = clock

    def check(self, token: str, jose_header: Mapping[str, Any]) -> Identity:
        try:
            jose.verify(
                token,
                self._keys,
                algorithms=self._algorithms,
                now=self._clock(),
                issuer=self._issuers,
                audience=self._audiences,
                require=("exp", "iss", "aud"),
            )
        except jose.TokenRejected as rejected:
            return _failed(self._reason(rejected))
        return Identity(True, self._by)

    def _reason(self, rejected: jose.TokenRejected) -> str:
        """The dump's words: a short reason first (tests and readers match on it)."""
        reason, header = rejected.reason, rejected.header
        alg, kid = header.get("alg"), header.get("kid")
        if reason is Reason.UNSUPPORTED_ALG:
            allowed = ", ".join(self._algorithms)
            return f"algorithm not allowed: alg {alg!r}; accepted: {allowed}"
        if reason is Reason.ALG_KEY_MISMATCH:
            return f"algorithm not allowed: {rejected.detail}"
        if reason is Reason.NO_KID:
            return "unknown kid: the token's header has no kid"
        if reason is Reason.UNKNOWN_KID:
            return f"unknown kid: no key {kid!r} in {self._jwks_url}"
        if reason is Reason.KEYS_UNAVAILABLE:
            return f"JWKS unavailable: {self._jwks_url}: {rejected.detail}"
        return f"{_REASONS.get(reason, 'malformed')}: {rejected.detail}"


def _failed(error: str) -> Identity:
    return Identity(False, error=error)


_REASONS = {
    Reason.EXPIRED: "expired",
    Reason.BAD_AUDIENCE: "wrong audience",
    Reason.ISSUER_MISMATCH: "wrong issuer",
    Reason.ISSUED_IN_FUTURE: "not yet valid",
    Reason.NOT_YET_VALID: "not yet valid",
    Reason.BAD_SIGNATURE: "bad signature",
    Reason.MISSING_CLAIM: "missing claim",
}


def verifier_for(settings: Settings) -> Verifier:
    if settings.verify is VerifyMode.CLOUD_RUN:
        return CloudRunMarker()
    if settings.verify is VerifyMode.NONE:
        return DecodeOnly()
    assert settings.jwks_url is not None  # Settings refuses google/jwks without one
    if settings.verify is VerifyMode.GOOGLE:
        # Google signs ID tokens with RS256 only.
        return JwksVerifier(
            settings.jwks_url,
            settings.issuers,
            settings.audiences,
            ("RS256",),
            f"this service, against Google's certs {settings.jwks_url}",
        )
    return JwksVerifier(
        settings.jwks_url,
        settings.issuers,
        settings.audiences,
        ("RS256", "ES256"),
        f"this service, against the JWKS {settings.jwks_url}",
    )
