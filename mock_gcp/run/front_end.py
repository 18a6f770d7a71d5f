"""Cloud Run's front end, locally: a reverse proxy in front of one service's app.

Each request is admitted or refused by the rules in ``mock_gcp.run.admission`` (Google's
error pages, byte for byte), then forwarded the way Cloud Run forwards it: the checked
credential header with its JWT signature replaced by ``SIGNATURE_REMOVED_BY_GOOGLE``, every
other header as sent (hop-by-hop ones dropped), ``X-Forwarded-For``/``X-Forwarded-Proto``
added, any method, path, query and body; the app's answer is streamed back unchanged.

It is a plain WSGI app rather than Flask routes: a proxy must not route, redirect or answer
OPTIONS itself. Serve it with ``wiflab_core.serving.ThreadedServer`` or, built from environment
variables, under gunicorn: ``mock_gcp.run.front_end:create_app_from_env()``.
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests
import urllib3
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import ClosingIterator

from mock_gcp.journal.record import TOKEN_HEADERS, Record
from mock_gcp.journal.store import Journal, NoJournal
from mock_gcp.key_source import KeySource
from mock_gcp.projects import AccountLookup, Projects, load_projects
from mock_gcp.run.admission import (
    ERROR_CONTENT_TYPE,
    AdmissionOutcome,
    FrontEndCheck,
    RunError,
    invoke_policies,
    remove_signature,
)
from mock_gcp.run.settings import FrontEndConfigError, FrontEndSettings
from mock_gcp.topology import Policy, Service, Topology
from mock_gcp.topology_state import ServedProjects
from wiflab_core.decisions import Check, Decision
from wiflab_core.jose import KeyLookup
from wiflab_core.jwks_cache import JwksCache
from wiflab_core.log_safe import escaped
from wiflab_core.request_body import GuardedInput
from wiflab_core.wire import FRONT_END_HEADER, GOOGLE_ISSUERS

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from mock_gcp.backend import GoogleBackend

log = logging.getLogger(__name__)

JWKS_LIFESPAN_SECONDS = 300
# Cloud Run's limit on an HTTP/1 request body.
MAX_REQUEST_BYTES = 32 * 1024 * 1024
CONNECT_TIMEOUT_SECONDS = 5
# Cloud Run's default request timeout.
REQUEST_TIMEOUT_SECONDS = 300
STREAM_CHUNK_BYTES = 64 * 1024
# RFC 9110 section 7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Recomputed by the HTTP client from the body actually forwarded.
_RECOMPUTED = frozenset({"content-length"})
# Set by this front end only: never passed on from the caller.
_OURS = frozenset({FRONT_END_HEADER.lower()})


class _FrontEndRequest(Request):
    max_content_length = MAX_REQUEST_BYTES


class _Passthrough(Response):
    """A response that adds no Content-Type of its own: the app's headers go back as they were."""

    default_mimetype = None


class FrontEnd:
    """The WSGI app: admit (``FrontEndCheck``), then forward to ``upstream_url``."""

    def __init__(
        self,
        service_name: str,
        check: FrontEndCheck,
        upstream_url: str,
        app_secret: str = "",
        journal: Journal | None = None,
        project: Callable[[], str] | None = None,
    ):
        self.service_name = service_name
        # The service's project number, read per request (mock_gcp.projects): the journal's
        # entries carry it, for ?project=.
        self.project = project
        self.journal: Journal = journal if journal is not None else NoJournal()
        self.app_secret = app_secret
        self.check = check
        self.upstream_url = upstream_url.rstrip("/")
        self._session = requests.Session()
        # Only the caller's headers go upstream: no User-Agent, Accept or Accept-Encoding of ours.
        self._session.headers.clear()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if "wsgi.input" in environ:
            environ["wsgi.input"] = GuardedInput.of(environ)
        request = _FrontEndRequest(environ)
        target = _request_target(environ)
        path = target.partition("?")[0]
        outcome = self.check.decide(request.headers, path)
        if outcome.error is not None:
            error = outcome.error
            log.info(
                "run[%s] %s %s: denied %d: %s",
                self.service_name,
                request.method,
                escaped(path),
                error.status,
                escaped(error.log_reason),
            )
            refused = _error_response(error)
            recorded = self._record(request, path, refused.status_code, outcome)
            return ClosingIterator(refused(environ, start_response), recorded)
        admission = outcome.admission
        assert admission is not None
        log.info(
            "run[%s] %s %s: allowed %s by %s",
            self.service_name,
            request.method,
            escaped(path),
            escaped(admission.caller or "anyone"),
            escaped(admission.grant),
        )
        response = self._forward(request, target, admission.header)
        recorded = self._record(request, path, response.status_code, outcome)
        # Wrapped here: a direct-passthrough response's own close callbacks are not run.
        return ClosingIterator(response(environ, start_response), recorded)

    def _record(
        self, request: Request, path: str, status: int, outcome: AdmissionOutcome
    ) -> Callable[[], None]:
        """What records this call in the journal once the response is sent (the caller does
        not wait for it)."""
        # /healthz is the stack's readiness probe (as on Google's side, not recorded).
        if not self.journal.enabled or path == "/healthz":
            return lambda: None
        headers = {name: request.headers[name] for name in TOKEN_HEADERS if name in request.headers}
        fields = {"service": self.service_name, **request.args.to_dict()}
        decision = outcome.decision
        if self.project is not None:
            served = Check("project", True, None, self.project())
            decision = Decision(
                decision.service, decision.action, (served, *decision.checks), decision.refusal
            )
        record = Record("run", request.method, path, status, decision, fields, headers)
        ticket = self.journal.reserve()

        def recorded() -> None:
            self.journal.record_in_turn(ticket, record)

        return recorded

    def _forward(self, request: Request, target: str, checked_header: str | None) -> Response:
        headers = _upstream_headers(request, checked_header, self.app_secret)
        body = _BodyStream.of(request)
        try:
            upstream = self._session.request(
                request.method,
                self.upstream_url + target,
                headers=headers,
                data=body,
                stream=True,
                allow_redirects=False,
                timeout=(CONNECT_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS),
            )
        except _BodyBroken:
            assert body is not None and body.error is not None
            return _body_refusal(body.error)
        except requests.ConnectionError as exc:  # refused, reset, or no connection in time
            log.warning(
                "run[%s]: upstream %s failed: %s", self.service_name, self.upstream_url, exc
            )
            return _upstream_failure(
                503,
                "Service Unavailable",
                f"The service did not answer: its app at {self.upstream_url} is unreachable.",
            )
        except requests.Timeout:
            return _upstream_failure(504, "Gateway Timeout", "upstream request timeout")
        except requests.RequestException as exc:
            return _upstream_failure(502, "Bad Gateway", f"The service's answer was invalid: {exc}")
        dropped = _hop_by_hop(upstream.headers.get("Connection", ""))
        response = _Passthrough(
            _stream(upstream, self.service_name),
            status=f"{upstream.status_code} {upstream.reason}"
            if upstream.reason
            else upstream.status_code,
            headers=[
                (name, value)
                for name, value in upstream.raw.headers.items()
                if name.lower() not in dropped
            ],
            direct_passthrough=True,
        )
        response.call_on_close(upstream.close)
        return response


class _BodyBroken(Exception):
    """The caller's body failed while it was being forwarded (``_BodyStream.error`` says how)."""


class _BodyStream:
    """The caller's body, read as the upstream request is sent: never held whole in memory.

    With a Content-Length it goes upstream with the same length (requests reads ``len``);
    a chunked body goes upstream chunked. werkzeug bounds both at ``MAX_REQUEST_BYTES``.
    """

    def __init__(self, stream: Any, length: int | None):
        self._stream = stream
        if length is not None:
            self.len = length
        self.error: HTTPException | None = None

    @classmethod
    def of(cls, request: Request) -> _BodyStream | None:
        length = request.content_length
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        if not length and not chunked:
            return None  # no body: none is sent (and no chunked encoding for a GET)
        try:
            stream = request.stream  # raises 413 at once for a Content-Length over the limit
        except HTTPException as exc:
            body = cls(None, 0)
            body.error = exc
            return body
        return cls(stream, length)

    def read(self, size: int = -1) -> bytes:
        if self.error is not None:
            raise _BodyBroken()
        try:
            return self._stream.read(size if size and size > 0 else STREAM_CHUNK_BYTES)
        except HTTPException as exc:  # 413, a client gone mid-body, a malformed chunk
            self.error = exc
            raise _BodyBroken() from None

    def __iter__(self) -> Iterator[bytes]:
        while data := self.read(STREAM_CHUNK_BYTES):
            yield data


def _body_refusal(error: HTTPException) -> Response:
    if isinstance(error, RequestEntityTooLarge):
        # unverified: the text of Google's 413 page.
        return _error_response(
            RunError(
                413,
                "Request Entity Too Large",
                "Your client issued a request that was too large.",
                "body too large",
            )
        )
    # unverified: Google's front ends answer a malformed request with this 400 page.
    reason = error.description or "bad body"
    return _error_response(
        RunError(
            400, "Bad Request", "Your client has issued a malformed or illegal request.", reason
        )
    )


def create_app(
    service: Service,
    *,
    service_url: str,
    upstream_url: str,
    google_keys: KeyLookup,
    google_issuers: Collection[str],
    policy_for_invoke: Callable[[], Iterable[tuple[str, Policy]]],
    allow_unauthenticated: Callable[[], bool] | None = None,
    email_for_unique_id: Callable[[str], str | None] | None = None,
    app_secret: str = "",
    account_disabled: Callable[[str], bool] | None = None,
    journal: Journal | None = None,
    project: Callable[[], str] | None = None,
) -> FrontEnd:
    """The front end of ``service`` at ``service_url``, forwarding to its app at ``upstream_url``.

    ``allow_unauthenticated`` defaults to the service's own flag; ``email_for_unique_id``
    resolves the ``sub`` of tokens minted without email (None: such callers are refused).
    """
    check = FrontEndCheck(
        service_url=service_url,
        custom_audiences=tuple(service.custom_audiences),
        google_keys=google_keys,
        google_issuers=tuple(google_issuers),
        policies=policy_for_invoke,
        allow_unauthenticated=allow_unauthenticated or (lambda: service.allow_unauthenticated),
        email_for_unique_id=email_for_unique_id,
        account_disabled=account_disabled,
    )
    return FrontEnd(service.name, check, upstream_url, app_secret, journal, project)


def create_app_for_topology(
    topology: Callable[[], Topology],
    service_name: str,
    *,
    service_url: str,
    upstream_url: str,
    google_keys: KeyLookup,
    google_issuers: Collection[str],
    app_secret: str = "",
    journal: Journal | None = None,
    accounts: Callable[[], AccountLookup] | None = None,
) -> FrontEnd:
    """The front end of a topology's service, following the topology as it changes.

    ``topology`` is read per request (e.g. ``lambda: backend.topology``): bindings and the
    allowUnauthenticated flag applied at run time take effect at once. ``accounts``: where
    callers' service accounts are found (every project served, ``mock_gcp.projects``: a
    caller of another project may be bound here); else the topology's own.
    """
    service = topology().service(service_name)
    if service is None:
        raise FrontEndConfigError(f"no service {service_name!r} in the topology")
    lookup: Callable[[], AccountLookup] = accounts or topology

    def current() -> Service:
        return topology().service(service_name) or service

    def email_for(unique_id: str) -> str | None:
        account = lookup().service_account(unique_id)
        return account.email if account else None

    def disabled(email: str) -> bool:
        account = lookup().service_account(email)
        return account is not None and account.disabled

    return create_app(
        service,
        service_url=service_url,
        upstream_url=upstream_url,
        google_keys=google_keys,
        google_issuers=google_issuers,
        policy_for_invoke=lambda: invoke_policies(topology(), current()),
        allow_unauthenticated=lambda: current().allow_unauthenticated,
        email_for_unique_id=email_for,
        app_secret=app_secret,
        account_disabled=disabled,
        journal=journal,
        project=lambda: topology().project_number,
    )


def create_app_from_settings(
    settings: FrontEndSettings, *, backend: GoogleBackend | None = None
) -> FrontEnd:
    """The front end for settings. ``backend``: Google's side in this process (the stack's
    threads mode), whose topology it follows as it changes and whose keys it reads directly;
    else the topology file and the certs URL."""
    google_keys: KeyLookup
    projects: Callable[[], Projects]
    if backend is not None:
        shared = backend  # narrowed, for the closure
        projects, google_keys = (lambda: shared.projects), shared.issuer.key_for
        journal = shared.journal
    else:
        # The topology in force: the state file's when one was applied at run time, and the
        # projects put beside it (mock_gcp.topology_state).
        default, *more = load_projects((settings.topology, *settings.more_topologies))
        served = ServedProjects.following(default, settings.topology_state, tuple(more))
        projects = served.current
        google_keys = (
            key_source_lookup(settings.google_keys)
            if settings.google_keys
            else jwks_key_lookup(settings.google_certs_url)
        )
        journal = settings.journal.open()

    def topology() -> Topology:
        # The service's project: the default one's service first (mock_gcp.projects).
        now = projects()
        found = now.service(settings.service, settings.project)
        if found is not None:
            return found[0]
        named = now.by_number_or_id(settings.project) if settings.project else None
        return named or now.default

    return create_app_for_topology(
        topology,
        settings.service,
        service_url=settings.service_url,
        upstream_url=settings.upstream_url,
        google_keys=google_keys,
        google_issuers=(settings.google_issuer, *GOOGLE_ISSUERS),
        app_secret=settings.app_secret,
        journal=journal,
        accounts=projects,
    )


def create_app_from_env(environ: Mapping[str, str] | None = None) -> FrontEnd:
    """For gunicorn: ``mock_gcp.run.front_end:create_app_from_env()``; the variables are in
    ``mock_gcp.run.settings``."""
    return create_app_from_settings(
        FrontEndSettings.from_env(os.environ if environ is None else environ)
    )


def jwks_key_lookup(certs_url: str) -> KeyLookup:
    """kid -> key from a JWKS URL, through the one JWKS cache: fetched once; an unknown kid
    may refetch once. Raises ``KeysUnavailable`` when the certs cannot be fetched."""
    return JwksCache(ttl=JWKS_LIFESPAN_SECONDS).lookup(certs_url)


def key_source_lookup(path: Path) -> KeyLookup:
    """kid -> key straight from Google's key source (``mock_gcp.key_source``), as Google's own
    front ends know Google's keys: a key rotated in is known at once, with no JWKS cooldown
    (one stat of the key file per request)."""
    source = KeySource.open(path, create=False)
    return lambda kid: source.current().issuer_key(kid)


def _request_target(environ: WSGIEnvironment) -> str:
    """The path and query as the client sent them, so escapes like %2F survive the hop."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if raw.startswith("/"):
        return raw
    path = quote(environ.get("PATH_INFO", "").encode("latin-1"), safe="/;:@&=+$,!~*'()%")
    query = environ.get("QUERY_STRING", "")
    return (path or "/") + (f"?{query}" if query else "")


def _hop_by_hop(connection: str) -> frozenset[str]:
    named = {token.strip().lower() for token in connection.split(",") if token.strip()}
    return HOP_BY_HOP | named


def _upstream_headers(
    request: Request, checked_header: str | None, app_secret: str = ""
) -> dict[str, str]:
    dropped = _hop_by_hop(request.headers.get("Connection", "")) | _RECOMPUTED | _OURS
    headers = {
        name: value for name, value in request.headers.items() if name.lower() not in dropped
    }
    if checked_header is not None:
        headers[checked_header] = remove_signature(request.headers[checked_header])
    # What this front end checked, for the app to say what it knows (a caller's own
    # X-Wiflab-Front-End was dropped above: only ours reaches the app).
    said = f"checked={checked_header or 'none'}"
    headers[FRONT_END_HEADER] = f"{said}; secret={app_secret}" if app_secret else said
    client = request.remote_addr or ""
    forwarded_for = request.headers.get("X-Forwarded-For")
    headers["X-Forwarded-For"] = f"{forwarded_for}, {client}" if forwarded_for else client
    # Cloud Run always says https; locally the front end speaks http, and an app building
    # absolute URLs from this header must get ones that work.
    headers["X-Forwarded-Proto"] = request.scheme
    for name in ("User-Agent", "Accept-Encoding"):
        if name not in request.headers:
            headers[name] = urllib3.util.SKIP_HEADER  # else urllib3 would add its own
    return headers


def _stream(upstream: requests.Response, service_name: str) -> Iterator[bytes]:
    """The body as it arrives (read1: whatever is there, not a full buffer), undecoded:
    compressed stays compressed and Content-Length stays true."""
    try:
        while data := upstream.raw.read1(STREAM_CHUNK_BYTES, decode_content=False):
            yield data
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        # Headers are already sent: all a proxy can do is cut the response short.
        log.warning("run[%s]: upstream response broke off: %s", service_name, exc)


def _error_response(error: RunError) -> Response:
    response = Response(error.page(), status=error.status, content_type=ERROR_CONTENT_TYPE)
    for name, value in error.headers:
        response.headers[name] = value
    return response


def _upstream_failure(status: int, title: str, text: str) -> Response:
    # unverified: Cloud Run's page when the container does not answer; same template.
    return _error_response(RunError(status, title, html.escape(text), text))
