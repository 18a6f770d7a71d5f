"""Who called: the bearer token's claims, and who (if anyone) vouches for them.

A bad token is never an HTTP error here. /dump is a dump: it answers 200 with whatever it
could see (which header, the JOSE header and claims when they decode) plus ``verified:
false`` and an ``error`` saying why (expired, wrong audience, unknown kid, bad signature,
malformed, ...). Refusing callers is the Cloud Run front end's job, not the dump's.

The token is looked for where Cloud Run looks: ``X-Serverless-Authorization`` if present,
else ``Authorization``. Nothing here logs a token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import jwt

from protected_app.settings import Settings, VerifyMode
from wiflab_core.bearer import bearer_token, credential_header

SIGNATURE_REMOVED = "SIGNATURE_REMOVED_BY_GOOGLE"
# How long a fetched JWKS is trusted before it is fetched again; an unknown kid may force one
# earlier refetch (rate-limited by PyJWKClient's cooldown).
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


def identify(headers: Mapping[str, str], verifier: Verifier) -> Identity:
    name = credential_header(headers)
    if name is None:
        return Identity(
            False, error="no token: neither X-Serverless-Authorization nor Authorization is set"
        )
    token = bearer_token(headers[name])
    if token is None:
        return Identity(False, header=name, error=f'malformed: {name} is not "Bearer <token>"')
    try:
        jose_header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
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

    Keys come from pyjwt's PyJWKClient: the JWKS is fetched once and cached, never per
    request; an unknown kid may trigger one refetch (rate-limited), which picks up rotation.
    """

    def __init__(
        self,
        jwks_url: str,
        issuers: Sequence[str],
        audiences: Sequence[str],
        algorithms: Sequence[str],
        by: str,
    ):
        self._client = jwt.PyJWKClient(
            jwks_url,
            cache_jwk_set=True,
            lifespan=JWKS_LIFESPAN_SECONDS,
            timeout=JWKS_FETCH_TIMEOUT_SECONDS,
        )
        self._jwks_url = jwks_url
        self._issuers = list(issuers)
        self._audiences = list(audiences)
        self._algorithms = tuple(algorithms)
        self._by = by

    def check(self, token: str, jose_header: Mapping[str, Any]) -> Identity:
        alg = jose_header.get("alg")
        if alg not in self._algorithms:
            allowed = ", ".join(self._algorithms)
            return _failed(f"algorithm not allowed: alg {alg!r}; accepted: {allowed}")
        kid = jose_header.get("kid")
        if not isinstance(kid, str) or not kid:
            return _failed("unknown kid: the token's header has no kid")
        try:
            key = self._client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            return _failed(f"JWKS unavailable: {self._jwks_url}: {exc}")
        except jwt.PyJWKClientError as exc:
            if str(exc).startswith("Unable to find a signing key"):
                return _failed(f"unknown kid: no key {kid!r} in {self._jwks_url}")
            return _failed(f"JWKS unusable: {self._jwks_url}: {exc}")
        except jwt.PyJWTError as exc:
            return _failed(f"JWKS unusable: {self._jwks_url}: {exc}")
        if key.algorithm_name != alg:
            return _failed(
                f"algorithm not allowed: key {kid!r} is {key.algorithm_name}, token says {alg}"
            )
        try:
            jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._audiences,
                issuer=self._issuers,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            return _failed(_reason(exc))
        return Identity(True, self._by)


def _failed(error: str) -> Identity:
    return Identity(False, error=error)


# Most specific first: InvalidSignatureError is a DecodeError.
_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.ImmatureSignatureError, "not yet valid"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.MissingRequiredClaimError, "missing claim"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
)


def _reason(exc: jwt.PyJWTError) -> str:
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return f"{reason}: {exc}"
    return f"malformed: {exc}"


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
