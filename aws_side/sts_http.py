"""AWS STS over HTTP: every request (``POST /`` with a form body, or ``GET /?Action=...``) is
handed to ``aws_side.sts.answer`` as the client sent it: the path and query as on the wire,
every header with ``Host`` as received (a client that signed ``sts.us-east-1.amazonaws.com``
reaches 127.0.0.1:PORT through the intercepting proxy with that Host), and the body.

Anything that goes wrong before the rules run (a body too large, an unreadable one) is
answered in AWS's ``ErrorResponse`` too, never with an HTML page or a 500.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from aws_side.identities import Identities
from aws_side.settings import AwsSettings
from aws_side.sigv4 import SignedRequest
from aws_side.sts import NAMESPACE, answer
from wiflab_core.request_body import guard_input

# A GetCallerIdentity body is 43 bytes; AWS's query APIs refuse more than a few KiB anyway.
MAX_BODY = 64 * 1024
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: AwsSettings, clock: Clock | None = None, **_shared: object) -> Flask:
    identities = Identities.load(settings.credentials)
    return create_sts_app(identities, clock or _now)


def create_sts_app(identities: Identities, clock: Clock = _now) -> Flask:
    app = Flask("aws_side.sts")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.wsgi_app = guard_input(app.wsgi_app)  # type: ignore[method-assign,assignment]

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
    @app.route("/<path:path>", methods=["GET", "POST"])
    def sts(path: str) -> Response:
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
        signed = SignedRequest(
            method=request.method,
            path=raw.split("?", 1)[0] or "/",
            query=request.environ.get("QUERY_STRING", ""),
            headers=list(request.headers.items()),
            body=request.get_data(cache=False),
        )
        found = answer(signed, identities, clock())
        return _send(found.status, found.content_type, found.body, found.request_id)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 400
        # unverified: AWS's codes for a request its front door refuses before STS sees it.
        aws_code = {413: "RequestEntityTooLarge", 405: "InvalidAction"}.get(code, "InvalidRequest")
        rid = str(uuid.uuid4())
        text = exc.name if code != 405 else f"{request.method} is not supported"
        body = (
            f'<ErrorResponse xmlns="{NAMESPACE}">\n'
            "  <Error>\n"
            "    <Type>Sender</Type>\n"
            f"    <Code>{aws_code}</Code>\n"
            f"    <Message>{text}</Message>\n"
            "  </Error>\n"
            f"  <RequestId>{rid}</RequestId>\n"
            "</ErrorResponse>\n"
        )
        return _send(code, "text/xml", body, rid)

    return app


def _send(status: int, content_type: str, body: str, rid: str) -> Response:
    response = Response(body, status=status, content_type=content_type)
    response.headers["x-amzn-RequestId"] = rid
    return response
