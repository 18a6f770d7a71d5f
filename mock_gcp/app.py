"""The Flask app serving Google's side: STS, IAM Credentials, the issuer, the metadata server.

Their paths do not overlap, so one app (one port) serves them all and they share one
GoogleBackend: federated tokens issued by STS are known to IAM Credentials.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from mock_gcp import topology_http
from mock_gcp.backend import GoogleBackend
from mock_gcp.errors import ApiError, OAuthError
from mock_gcp.iamcredentials import http as iamcredentials
from mock_gcp.issuer import http as oauth2
from mock_gcp.journal import http as journal
from mock_gcp.key_source import KeySource
from mock_gcp.metadata import http as metadata
from mock_gcp.metadata.server import MetadataError
from mock_gcp.projects import load_projects
from mock_gcp.resource_manager import http as resource_manager
from mock_gcp.settings import GoogleSettings
from mock_gcp.sts import http as sts
from wiflab_core.request_body import guard_input

MAX_BODY = 64 * 1024
log = logging.getLogger("wiflab.google")

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "INVALID_ARGUMENT",
}


def create_app(backend: GoogleBackend, *, admin_secret: str | None = None) -> Flask:
    """Google's side over ``backend``; ``admin_secret`` lets callers beyond loopback read
    the journal and change the topology."""
    app = Flask("mock_gcp")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    # A malformed chunked body or a client gone mid-body is a 400, under every server.
    app.wsgi_app = guard_input(app.wsgi_app)  # type: ignore[method-assign,assignment]
    for module in (sts, iamcredentials, oauth2, metadata, resource_manager):
        app.register_blueprint(module.blueprint(backend))
    # Transports beside HTTP in the same process (IAM Credentials over gRPC) serve this backend.
    app.extensions["wiflab.backend"] = backend
    journal.install(app, backend.journal, admin_secret, backend.now, backend.project_secret_sha256)
    # The lab's own API (not Google's): the topology in force, changed at run time.
    app.register_blueprint(topology_http.blueprint(backend, admin_secret or ""))
    # One project of the many served (mock_gcp.projects), each with its own secret.
    app.register_blueprint(topology_http.projects_blueprint(backend, admin_secret or ""))

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.errorhandler(OAuthError)
    def oauth_error(error: OAuthError) -> tuple[Response, int]:
        journal.refused(error.refusal())
        return jsonify(error.body()), error.status

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> tuple[Response, int]:
        journal.refused(error.refusal())
        return jsonify(error.body()), error.code

    @app.errorhandler(MetadataError)
    def metadata_error(error: MetadataError) -> tuple[Response, int]:
        journal.refused(error.refusal())
        return Response(error.text, mimetype="text/html"), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        code = error.code or 500
        status = _STATUS_NAMES.get(code, "UNKNOWN")
        answer = ApiError(code, status, error.description or error.name)
        journal.refused(answer.refusal())
        return jsonify(answer.body()), code

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("unexpected error")
        journal.refused(ApiError(500, "INTERNAL", "Internal error encountered.").refusal())
        return jsonify(ApiError(500, "INTERNAL", "Internal error encountered.").body()), 500

    return app


def create_app_from_settings(
    settings: GoogleSettings, *, backend: GoogleBackend | None = None
) -> Flask:
    """The app for settings. ``backend``: one already built in this process, shared with the
    stack's in-process front ends (threads mode); else one is built from the settings."""
    if backend is None:
        keys = KeySource.open(settings.key_file) if settings.key_file else None
        default, *more = load_projects((settings.topology, *settings.more_topologies))
        backend = GoogleBackend(
            default,
            settings.deviations(),
            journal=settings.journal.open(),
            topology_state=settings.topology_state,
            keys=keys,
            projects=tuple(more),
            jwks_cache=settings.jwks_cache,
        )
    return create_app(backend, admin_secret=settings.admin_secret)


def create_app_from_env(environ: Mapping[str, str] | None = None) -> Flask:
    """For gunicorn: ``mock_gcp.app:create_app_from_env()``; the variables are in
    ``mock_gcp.settings``."""
    return create_app_from_settings(
        GoogleSettings.from_env(os.environ if environ is None else environ)
    )
