"""The explorer's Flask app: the page, and a small JSON API behind it on the same origin.

| route | what |
|---|---|
| ``GET /`` | the page (``static/index.html``; its script and styles beside it) |
| ``GET /api/topology`` | the topology in force (relayed from ``/wiflab/v1/topology``) |
| ``GET /api/journal`` | the journal (relayed, ``?since=`` and ``?chain=`` passed on) |
| ``GET /api/journal/stream`` | the journal's server-sent events (relayed, Last-Event-ID) |
| ``GET /api/exercises`` | the Break it exercises |
| ``POST /api/try`` | ``{"profile"?, "claims"?}``: run the whole chain |
| ``POST /api/break/<key>`` | ``{"profile"?}``: change the topology or the token, run the chain |
| ``POST /api/restore`` | the start-up topology again |

Only loopback Host names are answered (a page elsewhere cannot reach it by DNS rebinding),
and a POST must be ``application/json`` (a cross-site form cannot send one without a
preflight, which is never answered).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from flask import Flask, Response, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException

from wiflab_core import json_limits
from wiflab_lab.explorer.errors import RunError
from wiflab_lab.explorer.settings import ExplorerSettings

log = logging.getLogger("wiflab.explorer")

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 64 * 1024
TOPOLOGY_PATH = "/wiflab/v1/topology"
JOURNAL_PATH = "/wiflab/v1/journal"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
# A relayed stream ends after this long (or when the journal is quiet for STREAM_IDLE
# seconds); the browser's EventSource reconnects at once with Last-Event-ID, so a person
# sees one stream, and no server thread is held by a browser that went away.
STREAM_SECONDS = 20.0
STREAM_IDLE_SECONDS = 2.0


def create_app(settings: ExplorerSettings) -> Flask:
    app = Flask("wiflab_explorer", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    google = settings.google_url.rstrip("/")

    @app.before_request
    def guard() -> Response | None:
        if _host_name(request.host or "") not in LOOPBACK_HOSTS:
            return _error(403, "host", "the explorer answers loopback host names only")
        if request.method == "POST" and request.mimetype != "application/json":
            return _error(415, "Content-Type", "send application/json")
        return None

    @app.get("/")
    def index() -> Response:
        response = send_from_directory(STATIC, "index.html")
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/static/<path:name>")
    def static(name: str) -> Response:
        return send_from_directory(STATIC, name)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.get("/api/topology")
    def topology() -> Response:
        return _relay(google + TOPOLOGY_PATH, {})

    @app.get("/api/journal")
    def journal() -> Response:
        query = {k: v for k, v in request.args.items() if k in ("since", "chain")}
        return _relay(google + JOURNAL_PATH, query)

    @app.get("/api/journal/stream")
    def journal_stream() -> Response:
        last = request.headers.get("Last-Event-ID") or request.args.get("lastEventId", "")
        return Response(
            _stream(google + JOURNAL_PATH + "/stream", last),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.get("/api/exercises")
    def exercises() -> Response:
        from wiflab_lab.explorer.runs import exercises_json

        return jsonify({"exercises": exercises_json()})

    @app.post("/api/try")
    def try_it() -> tuple[Response, int]:
        body = _body()
        return _run(settings, profile=body.get("profile"), claims=body.get("claims"))

    @app.post("/api/break/<key>")
    def break_it(key: str) -> tuple[Response, int]:
        from wiflab_lab.explorer.runs import EXERCISES

        exercise = EXERCISES.get(key)
        if exercise is None:
            known = ", ".join(EXERCISES)
            return _error(404, "exercise", f"no exercise {key!r} (exercises: {known})"), 404
        body = _body()
        return _run(settings, profile=body.get("profile"), exercise=exercise)

    @app.post("/api/restore")
    def restore() -> tuple[Response, int]:
        answer = requests.delete(google + TOPOLOGY_PATH, timeout=10)
        if answer.status_code != 200:
            return _error(502, "topology", answer.text[:500]), 502
        return jsonify({"restored": True, "topology": answer.json()}), 200

    @app.errorhandler(RunError)
    def run_error(error: RunError) -> tuple[Response, int]:
        return _error(400, error.field, error.message), 400

    @app.errorhandler(requests.RequestException)
    def unreachable(error: requests.RequestException) -> tuple[Response, int]:
        return _error(
            502, "google", f"the Google side did not answer ({type(error).__name__})"
        ), 502

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        code = error.code or 500
        return _error(code, "request", error.description or error.name), code

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("unexpected error")
        return _error(500, "explorer", "unexpected error (see the stack's log)"), 500

    return app


def _host_name(host: str) -> str:
    """``[::1]:8080`` -> ``[::1]``, ``localhost:80`` -> ``localhost``."""
    if host.startswith("["):
        return host.partition("]")[0].lower() + "]"
    return host.partition(":")[0].lower()


def _body() -> dict[str, Any]:
    data = request.get_data()
    try:
        value = json_limits.loads(data, "body") if data else {}
    except json_limits.JsonInputError as exc:
        raise RunError(exc.field, exc.problem) from None
    if not isinstance(value, dict):
        raise RunError("body", "must be a JSON object")
    return value


def _run(settings: ExplorerSettings, **kwargs: Any) -> tuple[Response, int]:
    from wiflab_lab.demo.endpoints import EndpointsError, load_endpoints
    from wiflab_lab.explorer.runs import GoogleSide, run_chain

    try:
        endpoints = load_endpoints(settings.endpoints_file)
    except EndpointsError as exc:
        return _error(503, "endpoints", f"{settings.endpoints_file}: {exc}"), 503
    return jsonify(run_chain(GoogleSide(settings.google_url), endpoints, **kwargs)), 200


def _error(status: int, field: str, message: str) -> Response:
    response = jsonify({"error": {"status": status, "field": field, "message": message}})
    response.status_code = status
    return response


def _relay(url: str, query: dict[str, str]) -> Response:
    upstream = requests.get(url, params=query, timeout=10)
    if upstream.status_code == 404 and url.endswith(JOURNAL_PATH):
        # A Google side without a journal: the page says so rather than failing.
        return jsonify({"entries": [], "next": 0, "unavailable": "the Google side has no journal"})
    response = Response(upstream.content, status=upstream.status_code)
    response.headers["Content-Type"] = upstream.headers.get("Content-Type", "application/json")
    return response


def _stream(url: str, last_event_id: str) -> Iterator[bytes]:
    yield b"retry: 500\n\n"
    headers = {"Accept": "text/event-stream"}
    if last_event_id.isdigit():
        headers["Last-Event-ID"] = last_event_id
    ends = time.monotonic() + STREAM_SECONDS
    try:
        with requests.get(
            url, headers=headers, stream=True, timeout=(5, STREAM_IDLE_SECONDS)
        ) as upstream:
            if upstream.status_code != 200:
                yield b": the Google side has no journal stream\n\n"
                return
            for chunk in upstream.iter_content(chunk_size=None):
                yield chunk
                if time.monotonic() > ends:
                    return
    except requests.RequestException:
        return  # quiet for a while, or gone: the browser reconnects
