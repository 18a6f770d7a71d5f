"""The journal over HTTP, on Google's side: recording every request, and serving them.

``install`` hooks a Flask app so each request (but the journal's own and ``/healthz``)
becomes a ``Record``: the decision its service noted (``note``), or, for a request refused
before a rule ran, the answer it got (``refused``, from the app's error handlers).

THE JOURNAL CONTRACT (issue 13):
- ``GET /wiflab/v1/journal[?since=ID][&chain=ID]`` -> ``{"entries": [...], "next": ID}``
- ``GET /wiflab/v1/journal/stream``: server-sent events, ``id: N / event: entry / data: ENTRY``,
  from ``?since`` or the ``Last-Event-ID`` header
- ``DELETE /wiflab/v1/journal``: clears it.
Loopback callers only, unless they present the stack's admin secret (``Authorization:
Bearer SECRET``): ``mock_gcp.admin_guard``, the topology API's guard too.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request

from mock_gcp.admin_guard import require_admin, require_project
from mock_gcp.errors import ApiError
from mock_gcp.journal.record import (
    TOKEN_HEADERS,
    Record,
    Service,
    issued_tokens,
    unruled,
)
from mock_gcp.journal.store import Journal, dumps
from wiflab_core import json_limits
from wiflab_core.decisions import Check, Decision, Refusal

PREFIX = "/wiflab/v1/journal"
# The stream's comment line when nothing happened for this long: it keeps proxies from closing
# the stream, and a client gone is noticed (a write fails) within it, so stops stay prompt.
KEEPALIVE_SECONDS = 1.0
# `since` and `chain` are ids: digits, bounded (a longer one names nothing).
MAX_ID_DIGITS = 18
_UNRECORDED = ("/healthz", "/wiflab/")


def note(decision: Decision, fields: Mapping[str, Any] | None = None) -> None:
    """What the service decided about the current request (and the fields it read)."""
    g.journal_decision = decision
    if fields is not None:
        g.journal_fields = fields


def add_checks(*checks: Check) -> None:
    """More checks the service made for the current request, after those already noted."""
    noted: Decision | None = g.get("journal_decision")
    if noted is not None:
        g.journal_decision = Decision(
            noted.service, noted.action, (*noted.checks, *checks), noted.refusal
        )


def refused(refusal: Refusal) -> None:
    """The current request was refused with this answer (an error handler saw it)."""
    g.journal_refusal = refusal


def service_of(path: str) -> tuple[Service, str]:
    """The Google service a path belongs to, and the action for a request no rule decided."""
    if path == "/" or path.startswith("/computeMetadata"):
        tail = path.rstrip("/").rpartition("/")[2]
        return "metadata", tail if tail in ("token", "identity") else "value"
    if path.startswith("/v1/projects/"):
        return "iamcredentials", path.rpartition(":")[2] if ":" in path else "unknown"
    if path.startswith("/v1/"):
        return "sts", {"/v1/token": "exchange", "/v1/introspect": "introspect"}.get(path, "unknown")
    if "tokeninfo" in path:
        return "tokeninfo", "tokeninfo"
    if path.startswith("/service_accounts/"):
        return "issuer", "serviceAccountKeys"
    if path.startswith("/.well-known/"):
        return "issuer", "discovery"
    return "issuer", "certs" if path.endswith("/certs") else "unknown path"


def _fields() -> Mapping[str, Any]:
    """The query and body fields of a request no service noted. A body that cannot be read
    (too large, broken: the answer says so) is left out."""
    fields: dict[str, Any] = dict(request.args.items())
    # The request was answered already: a body that fails to read is no field.
    with contextlib.suppress(Exception):
        fields.update(_body_fields())
    return fields


def _body_fields() -> Mapping[str, Any]:
    fields: dict[str, Any] = {}
    if request.mimetype == "application/json":
        try:
            body = json_limits.loads(request.get_data(), "body")
        except json_limits.JsonInputError:
            body = None
        if isinstance(body, dict):
            fields.update(body)
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields.update(request.form.items())
    return fields


def _issued(response: Response, service: Service, action: str) -> tuple[tuple[str, str], ...]:
    if response.status_code != 200 or response.is_streamed:
        return ()
    if service == "metadata" and action == "identity":
        return (("token", response.get_data(as_text=True).strip()),)
    if response.mimetype != "application/json":
        return ()
    try:
        return issued_tokens(json.loads(response.get_data()))
    except ValueError:
        return ()


def _decision(service: Service, action: str, status: int) -> Decision:
    noted: Decision | None = g.get("journal_decision")
    refusal: Refusal | None = g.get("journal_refusal")
    if noted is None:
        if refusal is None and status >= 400:
            refusal = Refusal(status, "error", "the request was refused")
        return unruled(service, action, refusal)
    if noted.refusal is None and refusal is not None:
        # A rule let it through, then the request failed further on (a body, a lookup).
        failed = Check("request", False, None, None, refusal.text)
        return Decision(noted.service, noted.action, (*noted.checks, failed), refusal)
    return noted


def record_response(journal: Journal, response: Response, now: float | None = None) -> None:
    """The current request's record, made once its response is sent (``call_on_close``):
    the client has its answer while the entry is built and written."""
    path = request.path
    if path.startswith(_UNRECORDED):
        return
    service, action = service_of(path)
    decision = _decision(service, action, response.status_code)
    if service == "metadata" and decision.action != action:
        # The metadata server decides "request" (its flavor check) for every path: the
        # entry names what was asked (token, identity, a value).
        decision = Decision(service, action, decision.checks, decision.refusal)
    headers = {name: request.headers[name] for name in TOKEN_HEADERS if name in request.headers}
    record = Record(
        service=service,
        method=request.method,
        path=path,
        status=response.status_code,
        decision=decision,
        fields=g.get("journal_fields") or _fields(),
        headers=headers,
        issued=_issued(response, service, action),
        time=now,
    )
    ticket = journal.reserve()
    response.call_on_close(lambda: journal.record_in_turn(ticket, record))


def install(
    app: Flask,
    journal: Journal,
    admin_secret: str | None = None,
    clock: Callable[[], float] | None = None,
    project_secret: Callable[[str], str | None] | None = None,
) -> None:
    """Record every request ``app`` serves into ``journal`` (at ``clock``'s time), and serve
    the journal. ``project_secret``: a project's secret hash (``mock_gcp.admin_guard``), so
    that ``?project=NUMBER`` is open to that project's own secret."""
    app.register_blueprint(blueprint(journal, admin_secret, project_secret))
    if not journal.enabled:
        return

    @app.after_request
    def record(response: Response) -> Response:
        record_response(journal, response, clock() if clock else None)
        return response


def _id(name: str) -> int:
    value = request.args.get(name, "")
    if value == "":
        return 0
    if not value.isascii() or not value.isdigit() or len(value) > MAX_ID_DIGITS:
        raise ApiError(
            400, "INVALID_ARGUMENT", f"{name} must be an entry id (digits), not {value[:40]!r}"
        )
    return int(value)


def _chain() -> str | None:
    value = request.args.get("chain")
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > MAX_ID_DIGITS:
        raise ApiError(
            400, "INVALID_ARGUMENT", f"chain must be a chain id (digits), not {value[:40]!r}"
        )
    return value


def _project() -> str | None:
    """``?project=NUMBER``: only the entries of that project (mock_gcp.projects)."""
    value = request.args.get("project")
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > MAX_ID_DIGITS + 2:
        raise ApiError(
            400,
            "INVALID_ARGUMENT",
            f"project must be a project number (digits), not {value[:40]!r}",
        )
    return value


def of_project(entries: list[dict[str, Any]], project: str | None) -> list[dict[str, Any]]:
    """The entries of ``project`` (all of them when None); ``next`` stays the journal's."""
    if project is None:
        return entries
    return [entry for entry in entries if entry.get("project") == project]


def blueprint(
    journal: Journal,
    admin_secret: str | None = None,
    project_secret: Callable[[str], str | None] | None = None,
) -> Blueprint:
    bp = Blueprint("journal", __name__)

    @bp.before_request
    def guard() -> None:
        remote, authorization = request.remote_addr, request.headers.get("Authorization")
        project = _project()
        try:
            require_admin(remote, authorization, admin_secret)
        except ApiError:
            if project is None or project_secret is None or request.method != "GET":
                raise
            # One project's entries: its own secret is enough (a CI job sees only its own).
            require_project(project, remote, authorization, admin_secret, project_secret(project))

    @bp.get(PREFIX)
    def entries() -> Response:
        found, following = journal.select(_id("since"), _chain())
        return jsonify({"entries": of_project(found, _project()), "next": following})

    @bp.delete(PREFIX)
    def clear() -> Response:
        journal.clear()
        return jsonify({"entries": [], "next": journal.select()[1]})

    @bp.get(f"{PREFIX}/stream")
    def stream() -> Response:
        since = _id("since")
        last = request.headers.get("Last-Event-ID", "").strip()
        if last:
            if not last.isascii() or not last.isdigit() or len(last) > MAX_ID_DIGITS:
                raise ApiError(
                    400, "INVALID_ARGUMENT", "Last-Event-ID must be an entry id (digits)"
                )
            since = int(last)
        chain = _chain()
        response = Response(
            _events(journal, since, chain, _project()), mimetype="text/event-stream"
        )
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Accel-Buffering"] = "no"
        return response

    return bp


def _events(
    journal: Journal, since: int, chain: str | None, project: str | None = None
) -> Iterator[str]:
    yield "retry: 1000\n\n"
    while True:
        found, following = journal.select(since, chain)
        for entry in of_project(found, project):
            yield f"id: {entry['id']}\nevent: entry\ndata: {dumps(entry)}\n\n"
        since = following
        if not journal.wait(since, KEEPALIVE_SECONDS):
            yield ": keep-alive\n\n"
