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

Each request ends in a ``Decision`` (the token's checks, the invoker check with every binding
considered). Errors are ``RunError`` values carrying the status, Google's error page and the
headers Cloud Run sends; ``log_reason`` says why for the front end's log and is never sent to
the client. ``decide_invoke`` is the invoker check alone (the demo asks it).
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mock_gcp.iam import Caller, decide_grant
from wiflab_core import jose
from wiflab_core.bearer import RequestHeaders, bearer_token, credential_header
from wiflab_core.decisions import Decision, Refusal, Trace
from wiflab_core.wire import SIGNATURE_REMOVED

if TYPE_CHECKING:
    from mock_gcp.topology import Policy, Service, Topology

SERVICE = "run"
INVOKE_PERMISSION = "run.routes.invoke"
# Cloud Run resource names carry a region; the stand-in has none, and says so.
LOCAL_REGION = "local"
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

    def refusal(self) -> Refusal:
        return Refusal(self.status, self.title, html.unescape(self.message))


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


@dataclass(frozen=True)
class Admission:
    """Let through: which header was checked (its signature is then removed) and why."""

    header: str | None
    caller: str | None
    grant: str


@dataclass(frozen=True)
class AdmissionOutcome:
    """The decision; the admission when let through, the error page when refused."""

    decision: Decision
    admission: Admission | None = None
    error: RunError | None = None


@dataclass(frozen=True)
class Invocation:
    """Whether a caller may invoke a service, and the grant (or public access) that says so."""

    decision: Decision
    grant: str | None


def service_audiences(service_url: str, custom_audiences: Collection[str]) -> frozenset[str]:
    """The ``aud`` values Cloud Run accepts: the service URL (trailing slash or not), or one
    of the service's custom audiences."""
    url = service_url.rstrip("/")
    return frozenset({url, url + "/", *custom_audiences})


def invoke_policies(topology: Topology, service: Service) -> list[tuple[str, Policy]]:
    """Where run.routes.invoke can come from: the service's own policy, then the project's."""
    project = f"projects/{topology.project_id}"
    return [
        (f"{project}/locations/{LOCAL_REGION}/services/{service.name}", service.policy),
        (project, topology.policy),
    ]


def decide_invoke(
    topology: Topology, service: Service, caller: Caller, path: str = "/"
) -> Invocation:
    """Cloud Run's access check for ``caller`` on ``service`` (no token, no HTTP)."""
    trace = Trace()
    policies = invoke_policies(topology, service)
    try:
        grant = _public_grant(trace, policies, service.allow_unauthenticated)
        if grant is None:
            grant = _invoker_grant(trace, caller, policies, path)
    except RunError as error:
        return Invocation(trace.decision(SERVICE, "invoke", error.refusal()), None)
    return Invocation(trace.decision(SERVICE, "invoke"), grant)


def _public_grant(
    trace: Trace, policies: list[tuple[str, Policy]], allow_unauthenticated: bool
) -> str | None:
    """How the service is public, or None: no token is looked at then."""
    expected = "allowUnauthenticated, or allUsers holding run.routes.invoke"
    if allow_unauthenticated:
        trace.check("public", True, expected, "allowUnauthenticated")
        return "allowUnauthenticated"
    public = decide_grant(Caller("anonymous", ""), INVOKE_PERMISSION, policies).grant
    trace.check("public", public is not None, expected, public.to_json() if public else None)
    return None if public is None else str(public)


def _invoker_grant(
    trace: Trace, caller: Caller, policies: list[tuple[str, Policy]], path: str
) -> str:
    found = decide_grant(caller, INVOKE_PERMISSION, policies)
    trace.extend(found.checks)
    if found.grant is None:
        raise forbidden(path, f"{caller.principal()} lacks {INVOKE_PERMISSION}")
    return str(found.grant)


@dataclass(frozen=True)
class FrontEndCheck:
    """Everything the front end needs to decide, each piece injectable.

    Policies and the public flag are callables, read per request: the topology can change
    while the front end runs. ``google_keys`` may raise ``jose.KeysUnavailable``.
    """

    service_url: str
    custom_audiences: Collection[str]
    google_keys: jose.KeyLookup
    google_issuers: Collection[str]
    policies: Callable[[], Iterable[tuple[str, Policy]]]
    allow_unauthenticated: Callable[[], bool]
    # Tokens minted with includeEmail=false carry only the account's unique id in ``sub``;
    # Cloud Run matches it to the account. None: such callers are refused.
    email_for_unique_id: Callable[[str], str | None] | None = None
    # Whether an email names a disabled service account (read per request). None: none is.
    account_disabled: Callable[[str], bool] | None = None
    clock: Callable[[], float] = time.time

    def admit(self, headers: RequestHeaders, path: str) -> Admission:
        """Admission, or raises RunError as Cloud Run would answer."""
        outcome = self.decide(headers, path)
        if outcome.error is not None:
            raise outcome.error
        assert outcome.admission is not None
        return outcome.admission

    def decide(self, headers: RequestHeaders, path: str) -> AdmissionOutcome:
        """One request's admission, every check recorded."""
        trace = Trace()
        try:
            admission = self._admit(trace, headers, path)
        except RunError as error:
            refused = trace.decision(SERVICE, "invoke", error.refusal())
            return AdmissionOutcome(refused, None, error)
        return AdmissionOutcome(trace.decision(SERVICE, "invoke"), admission)

    def _admit(self, trace: Trace, headers: RequestHeaders, path: str) -> Admission:
        policies = list(self.policies())
        public = _public_grant(trace, policies, self.allow_unauthenticated())
        if public is not None:
            return Admission(None, None, public)
        name = credential_header(headers)
        expected = "X-Serverless-Authorization or Authorization"
        if not trace.check("credential.header", name is not None, expected, name):
            raise forbidden(path, "no token in X-Serverless-Authorization or Authorization")
        assert name is not None
        token = bearer_token(headers[name])
        if not trace.check("credential.bearer", token is not None, "Bearer TOKEN", None):
            # unverified: Cloud Run's answer to a non-Bearer credential; treated as no token.
            raise forbidden(path, f"{name} is not a Bearer token")
        assert token is not None
        try:
            verified = self._verify(token)
        except jose.TokenRejected as rejected:
            trace.extend(rejected.checks)
            raise unauthorized(path, f"{name}: {rejected}") from None
        trace.extend(verified.checks)
        caller = self.caller_of(verified.claims)
        expected = "an email, or the sub of a known account"
        if not trace.check("caller.email", caller is not None, expected, None):
            sub = verified.claims.get("sub")
            raise forbidden(path, f"token has no email and sub {sub!r} is unknown")
        assert caller is not None
        disabled = caller.kind == "serviceAccount" and bool(
            self.account_disabled and self.account_disabled(caller.name)
        )
        if not trace.check("caller.disabled", not disabled, False, caller.name):
            # unverified: a disabled account's ID tokens are refused as an unauthorized caller.
            raise forbidden(path, f"{caller.principal()} is disabled")
        return Admission(name, caller.principal(), _invoker_grant(trace, caller, policies, path))

    def audiences(self) -> frozenset[str]:
        return service_audiences(self.service_url, self.custom_audiences)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a Google ID token for this service; raises jose.TokenRejected."""
        return self._verify(token).claims

    def _verify(self, token: str) -> jose.Verified:
        return jose.verify(
            token,
            self.google_keys,
            algorithms=("RS256",),  # Google signs ID tokens with RS256 only
            now=self.clock(),
            issuer=tuple(self.google_issuers),
            audience=self.audiences(),
            leeway=CLOCK_SKEW_SECONDS,
            require=("exp", "iat", "iss", "aud"),
        )

    def caller_of(self, claims: Mapping[str, Any]) -> Caller | None:
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            sub = claims.get("sub")
            lookup = self.email_for_unique_id
            email = lookup(sub) if lookup and isinstance(sub, str) else None
        if not email:
            return None
        if email.endswith(".gserviceaccount.com"):
            return Caller("serviceAccount", email)
        return Caller("user", email)


def remove_signature(value: str) -> str:
    """``Bearer h.p.s`` -> ``Bearer h.p.SIGNATURE_REMOVED_BY_GOOGLE``, as Cloud Run forwards it."""
    scheme, _, token = value.strip().partition(" ")
    header_and_payload, _, _ = token.strip().rpartition(".")
    return f"{scheme} {header_and_payload}.{SIGNATURE_REMOVED}"
