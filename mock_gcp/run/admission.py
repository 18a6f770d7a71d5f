"""Cloud Run's front-end check as rules (no HTTP here): which header, whose token, may they invoke.

Order, as Cloud Run does it:
1. A service that allows unauthenticated calls (``allowUnauthenticated``, or ``allUsers`` holding
   ``run.routes.invoke``) lets everything through without looking at any token; the headers
   reach the container untouched. That is what lets apps behind a public service (ESPv2,
   Firebase-authenticated APIs) read their own tokens from ``Authorization``.
2. The token is read from ``X-Serverless-Authorization`` if present, else ``Authorization``;
   none (or not ``Bearer``) -> 403.
3. It must be a Google-signed ID token (RS256, known kid, valid signature, Google's issuer,
   not expired) whose ``aud`` is the service URL (trailing slash or not) or one of its custom
   audiences; anything else -> 401.
4. The caller it names needs ``run.routes.invoke`` (``roles/run.invoker``) -> else 403.

Errors are ``RunError`` values carrying the status, Google's error page and the headers Cloud
Run sends; ``log_reason`` says why for the front end's log and is never sent to the client.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt

from mock_gcp.iam import Caller, find_grant
from wiflab_core.bearer import bearer_token, credential_header

if TYPE_CHECKING:
    from mock_gcp.topology import Policy

INVOKE_PERMISSION = "run.routes.invoke"
SIGNATURE_REMOVED = "SIGNATURE_REMOVED_BY_GOOGLE"
# Slack on exp/iat. Google's front-end figure is unpublished (unverified); 10 s is the clock
# skew google-auth itself allows when verifying Google's ID tokens.
CLOCK_SKEW_SECONDS = 10
# unverified: no capture of Cloud Run's 401 header was found; this is the RFC 6750 form with
# the wording Cloud Run logs for such requests ("The access token could not be verified").
WWW_AUTHENTICATE = (
    'Bearer error="invalid_token" error_description="The access token could not be verified"'
)

# Google Front End's error page, byte for byte as captured from a 403 (leading newline included).
_ERROR_PAGE = (
    "\n<html><head>\n"
    '<meta http-equiv="content-type" content="text/html;charset=utf-8">\n'
    "<title>{status} {title}</title>\n"
    "</head>\n"
    "<body text=#000000 bgcolor=#ffffff>\n"
    "<h1>Error: {title}</h1>\n"
    "<h2>{message}</h2>\n"
    "<h2></h2>\n"
    "</body></html>\n"
)
ERROR_CONTENT_TYPE = "text/html; charset=UTF-8"


@dataclass(frozen=True)
class RunError(Exception):
    status: int
    title: str
    message: str  # HTML, already escaped
    log_reason: str
    headers: tuple[tuple[str, str], ...] = ()

    def page(self) -> bytes:
        return _ERROR_PAGE.format(
            status=self.status, title=self.title, message=self.message
        ).encode("utf-8")


def forbidden(path: str, log_reason: str) -> RunError:
    message = (
        "Your client does not have permission to get URL "
        f"<code>{html.escape(path)}</code> from this server."
    )
    return RunError(403, "Forbidden", message, log_reason)


def unauthorized(path: str, log_reason: str) -> RunError:
    escaped = html.escape(path)
    message = f"Your client does not have permission to the requested URL <code>{escaped}</code>."
    return RunError(
        401, "Unauthorized", message, log_reason, (("WWW-Authenticate", WWW_AUTHENTICATE),)
    )


class InvalidIdToken(Exception):
    """Why a token is not a Google ID token for this service (for the log only)."""


@dataclass(frozen=True)
class Admission:
    """Let through: which header was checked (its signature is then removed) and why."""

    header: str | None
    caller: str | None
    grant: str


@dataclass(frozen=True)
class FrontEndCheck:
    """Everything the front end needs to decide, each piece injectable.

    Policies and the public flag are callables, read per request: the topology can change
    while the front end runs.
    """

    service_url: str
    custom_audiences: Collection[str]
    google_keys: Callable[[str], jwt.PyJWK | None]
    google_issuers: Collection[str]
    policies: Callable[[], Iterable[tuple[str, Policy]]]
    allow_unauthenticated: Callable[[], bool]
    # Tokens minted with includeEmail=false carry only the account's unique id in ``sub``;
    # Cloud Run matches it to the account. None: such callers are refused.
    email_for_unique_id: Callable[[str], str | None] | None = None

    def admit(self, headers: Mapping[str, str], path: str) -> Admission:
        """Admission, or raises RunError as Cloud Run would answer."""
        policies = list(self.policies())
        if self.allow_unauthenticated():
            return Admission(None, None, "allowUnauthenticated")
        public = find_grant(Caller("anonymous", ""), INVOKE_PERMISSION, policies)
        if public is not None:
            return Admission(None, None, str(public))
        name = credential_header(headers)
        if name is None:
            raise forbidden(path, "no token in X-Serverless-Authorization or Authorization")
        token = bearer_token(headers[name])
        if token is None:
            # unverified: Cloud Run's answer to a non-Bearer credential; treated as no token.
            raise forbidden(path, f"{name} is not a Bearer token")
        try:
            claims = self.verify(token)
        except InvalidIdToken as exc:
            raise unauthorized(path, f"{name}: {exc}") from None
        caller = self.caller_of(claims)
        if caller is None:
            raise forbidden(path, f"token has no email and sub {claims.get('sub')!r} is unknown")
        grant = find_grant(caller, INVOKE_PERMISSION, policies)
        if grant is None:
            raise forbidden(path, f"{caller.principal()} lacks {INVOKE_PERMISSION}")
        return Admission(name, caller.principal(), str(grant))

    def audiences(self) -> frozenset[str]:
        url = self.service_url.rstrip("/")
        return frozenset({url, url + "/", *self.custom_audiences})

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidIdToken(f"malformed: {exc}") from None
        if header.get("alg") != "RS256":  # Google signs ID tokens with RS256 only
            raise InvalidIdToken(f"alg {header.get('alg')!r} is not RS256")
        kid = header.get("kid")
        key = self.google_keys(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidIdToken(f"kid {kid!r} is not one of the Google issuer's keys")
        try:
            return jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=list(self.audiences()),
                issuer=list(self.google_issuers),
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidIdToken(f"{type(exc).__name__}: {exc}") from None

    def caller_of(self, claims: Mapping[str, Any]) -> Caller | None:
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            sub = claims.get("sub")
            lookup = self.email_for_unique_id
            email = lookup(sub) if lookup and isinstance(sub, str) else None
        if not email:
            return None
        kind = "serviceAccount" if email.endswith(".gserviceaccount.com") else "user"
        return Caller(kind, email)


def remove_signature(value: str) -> str:
    """``Bearer h.p.s`` -> ``Bearer h.p.SIGNATURE_REMOVED_BY_GOOGLE``, as Cloud Run forwards it."""
    scheme, _, token = value.strip().partition(" ")
    header_and_payload, _, _ = token.strip().rpartition(".")
    return f"{scheme} {header_and_payload}.{SIGNATURE_REMOVED}"
