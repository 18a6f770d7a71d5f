"""Who called: the bearer token's claims, and who (if anyone) vouches for them.

A bad token is never an HTTP error here. /dump is a dump: it answers 200 with whatever it
could see (which header, the JOSE header and claims when they decode) plus ``verified:
false`` and an ``error`` saying why (expired, wrong audience, unknown kid, bad signature,
malformed, ...). Refusing callers is the Cloud Run front end's job, not the dump's.

The token is looked for where Cloud Run looks: ``X-Serverless-Authorization`` if present,
else ``Authorization``. Nothing here logs a token.
"""

from __future__ import annotations

import hmac
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
from wiflab_core.wire import FRONT_END_HEADER, SIGNATURE_REMOVED

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


@dataclass(frozen=True)
class Via:
    """How the token arrived: the header it was in, and the front end's own header if any."""

    header: str
    front_end: str | None = None


class Verifier(Protocol):
    def check(self, token: str, jose_header: Mapping[str, Any], via: Via) -> Identity:
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
    result = verifier.check(token, jose_header, Via(name, headers.get(FRONT_END_HEADER)))
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

    def check(self, token: str, jose_header: Mapping[str, Any], via: Via) -> Identity:
        return Identity(
            False, error="not verified: PROTECTED_APP_VERIFY=none only decodes the token"
        )


class CloudRunMarker:
    """On Cloud Run the front end has verified the token and removed its signature.

    The marker alone proves nothing: anyone can end a token with it. It means "verified by
    the front end" only when the front end checked this header, which it does on a private
    service only (a public one passes every header untouched). So:

    - ``public``: the service allows unauthenticated calls: never verified.
    - ``front_end_secret`` set (the lab sets one per service, shared with its front end):
      the request must carry the front end's ``X-Wiflab-Front-End`` header with that secret
      (else it came straight to this port), saying it checked this very header (``checked=
      none``: the service is public at the moment, as the topology may change at run time).
    - neither (real Cloud Run, whose platform is the only way in): the marker is trusted on
      the header Cloud Run checks.
    """

    BY = "Cloud Run front end (signature removed by Google)"

    def __init__(self, front_end_secret: str = "", public: bool = False):
        self._secret = front_end_secret
        self._public = public

    def check(self, token: str, jose_header: Mapping[str, Any], via: Via) -> Identity:
        if self._public:
            return _failed(
                "not verified: the service is public (PROTECTED_APP_PUBLIC=1), "
                "so the Cloud Run front end checked no token"
            )
        if self._secret:
            fields = _front_end_fields(via.front_end)
            if not hmac.compare_digest(fields.get("secret", ""), self._secret):
                return _failed(
                    "not verified: the request did not come through the Cloud Run front end "
                    f"(no {FRONT_END_HEADER} header with this service's secret)"
                )
            checked = fields.get("checked", "none")
            if checked == "none":
                return _failed(
                    "not verified: the service is public, so the Cloud Run front end "
                    "checked no token"
                )
            if checked.lower() != via.header.lower():
                return _failed(
                    f"not verified: the Cloud Run front end checked {checked}, not {via.header}"
                )
        if token.rsplit(".", 1)[-1] == SIGNATURE_REMOVED:
            return Identity(True, self.BY)
        return _failed(
            f"not verified: the signature is not {SIGNATURE_REMOVED}, "
            "so the Cloud Run front end did not check this token"
        )


def _front_end_fields(value: str | None) -> dict[str, str]:
    """``checked=Authorization; secret=...`` as a dict; nothing for no header."""
    fields: dict[str, str] = {}
    for part in (value or "").split(";"):
        name, sep, item = part.strip().partition("=")
        if sep:
            fields[name.strip().lower()] = item.strip()
    return fields


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

    def check(self, token: str, jose_header: Mapping[str, Any], via: Via) -> Identity:
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
        return CloudRunMarker(settings.front_end_secret, settings.public)
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
