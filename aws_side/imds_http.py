"""The instance metadata service over HTTP (plain HTTP, as at 169.254.169.254)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from aws_side.identities import Identities
from aws_side.imds import TOKEN_HEADER, TOKEN_PATH, TTL_HEADER, Answer, InstanceMetadata, page
from aws_side.settings import AwsSettings
from wiflab_core.request_body import guard_input

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: AwsSettings, clock: Clock | None = None, **_shared: object) -> Flask:
    identities = Identities.load(settings.credentials)
    metadata = InstanceMetadata(
        identities.instance, settings.region, require_token=not settings.imds_v1
    )
    return create_imds_app(metadata, clock or _now)


def create_imds_app(metadata: InstanceMetadata, clock: Clock = _now) -> Flask:
    app = Flask("aws_side.imds")
    app.config["MAX_CONTENT_LENGTH"] = 4096
    app.wsgi_app = guard_input(app.wsgi_app)  # type: ignore[method-assign,assignment]

    @app.put(TOKEN_PATH)
    def token() -> Response:
        return _send(metadata.issue_token(request.headers.get(TTL_HEADER), clock()))

    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def get(path: str) -> Response:
        return _send(metadata.get(request.path, request.headers.get(TOKEN_HEADER), clock()))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 400
        # IMDS answers 405 to other methods (and a GET of the token path).
        title = {405: "Method Not Allowed", 413: "Request Entity Too Large"}.get(code, exc.name)
        return Response(page(code, title), status=code, content_type="text/html")

    return app


def _send(answer: Answer) -> Response:
    response = Response(answer.body, status=answer.status, content_type=answer.content_type)
    for name, value in answer.headers:
        response.headers[name] = value
    response.headers["Server"] = "EC2ws"
    return response
