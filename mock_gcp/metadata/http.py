"""The metadata server's HTTP contract: ``Metadata-Flavor: Google`` both ways."""

from __future__ import annotations

import json

from flask import Blueprint, Response, request

from mock_gcp.backend import GoogleBackend
from mock_gcp.metadata.server import PREFIX, MetadataError, MetadataServer, decide_request

FLAVOR = {"Metadata-Flavor": "Google", "Server": "Metadata Server for VM"}


def blueprint(backend: GoogleBackend) -> Blueprint:
    bp = Blueprint("metadata", __name__)
    server = MetadataServer(backend)

    @bp.before_request
    def require_flavor() -> Response | None:
        refusal = decide_request(request.path, request.headers).refusal
        if refusal is not None:
            raise MetadataError(refusal.status, refusal.text)
        return None

    @bp.after_app_request
    def flavor(response: Response) -> Response:
        if request.path == "/" or request.path.startswith(PREFIX):
            response.headers.update(FLAVOR)
        return response

    @bp.get("/")
    def ping() -> Response:
        return _text("computeMetadata/\n")

    @bp.get(f"{PREFIX}/instance/service-accounts/")
    def accounts() -> Response:
        email = server.account("default").email
        return _text(f"default/\n{email}/\n")

    @bp.get(f"{PREFIX}/instance/service-accounts/<alias>/")
    def account(alias: str) -> Response:
        if request.args.get("recursive", "").lower() == "true":
            return _json(server.info(alias))
        server.account(alias)
        return _text("aliases\nemail\nidentity\nscopes\ntoken\n")

    @bp.get(f"{PREFIX}/instance/service-accounts/<alias>/email")
    def email(alias: str) -> Response:
        return _text(server.account(alias).email)

    @bp.get(f"{PREFIX}/instance/service-accounts/<alias>/scopes")
    def scopes(alias: str) -> Response:
        return _text("\n".join(server.info(alias)["scopes"]) + "\n")

    @bp.get(f"{PREFIX}/instance/service-accounts/<alias>/token")
    def token(alias: str) -> Response:
        return _json(server.access_token(alias, request.args.get("scopes")))

    @bp.get(f"{PREFIX}/instance/service-accounts/<alias>/identity")
    def identity(alias: str) -> Response:
        return _text(
            server.identity(alias, request.args.get("audience"), request.args.get("format"))
        )

    @bp.get(f"{PREFIX}/project/<name>")
    def project(name: str) -> Response:
        values = server.project_values()
        if name not in values:
            raise MetadataError(404, "Not Found")
        return _text(values[name])

    return bp


def _text(body: str) -> Response:
    return Response(body, mimetype="application/text")


def _json(body: dict) -> Response:
    # google-auth requires application/json to parse the token response.
    return Response(json.dumps(body), mimetype="application/json")
