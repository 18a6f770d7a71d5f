"""The dump service over HTTP: ``/dump`` shows the request and who sent it; ``/``, ``/healthz``.

Served by gunicorn (``protected_app.app:create_app()``), locally behind the stand-in's Cloud
Run front end or on real Cloud Run.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from protected_app.identity import identify, verifier_for
from protected_app.settings import Settings
from wiflab_core.request_body import guard_input
from wiflab_core.wire import FRONT_END_HEADER

# /dump shows bodies up to this size; the rest is counted, not echoed.
MAX_BODY_SHOWN = 64 * 1024
# Cloud Run's own limit for an HTTP/1 request body; larger bodies get a 413.
MAX_REQUEST_BYTES = 32 * 1024 * 1024

INDEX_TEXT = """\
protected_app: the wiflab "dump" service.

GET or POST /dump answers with this request (method, path, query, headers, body) and
`identity`: the claims of the bearer token and who verified them. Deployed on Cloud Run,
the platform checks the Google ID token and the caller's run.invoker role first.
"""


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    verifier = verifier_for(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    # A malformed chunked body or a client gone mid-body is a 400, under every server.
    app.wsgi_app = guard_input(app.wsgi_app)  # type: ignore[method-assign,assignment]

    @app.get("/")
    def index() -> Response:
        return Response(INDEX_TEXT, mimetype="text/plain")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.route("/dump", methods=["GET", "POST"])
    def dump() -> Response:
        body = request.get_data(cache=False)
        report: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "query": request.args.to_dict(flat=False),
            "headers": _headers(),
            "remote_addr": request.remote_addr,
            "body": body[:MAX_BODY_SHOWN].decode("utf-8", errors="replace"),
            "body_bytes": len(body),
            "identity": identify(request.headers, verifier).to_json(),
        }
        if settings.cloud_run:
            report["cloud_run"] = dict(settings.cloud_run)
        return jsonify(report)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 400
        return jsonify({"error": {"code": status, "message": exc.description}}), status

    return app


def _headers() -> dict[str, str]:
    """Request headers; a header sent twice shows its values joined, as HTTP allows."""
    merged: dict[str, str] = {}
    for name, value in request.headers.items():
        if name.lower() == FRONT_END_HEADER.lower():
            # The secret shared with the front end is never shown: it is what proves the way in.
            value = re.sub(r"secret=[^;]*", "secret=(hidden)", value)
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged
