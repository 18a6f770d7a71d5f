"""The metadata server's HTTP contract: ``Metadata-Flavor: Google`` both ways."""

from __future__ import annotations

import html
import json

from flask import Blueprint, Response, request

from mock_gcp.backend import GoogleBackend
from mock_gcp.journal import http as journal
from mock_gcp.metadata import tree
from mock_gcp.metadata.server import (
    PREFIX,
    MetadataError,
    MetadataServer,
    decide_request,
    not_found_page,
)
from wiflab_core.decisions import Check

FLAVOR = {"Metadata-Flavor": "Google", "Server": "Metadata Server for VM"}


def blueprint(backend: GoogleBackend) -> Blueprint:
    bp = Blueprint("metadata", __name__)
    server = MetadataServer(backend)

    @bp.before_request
    def require_flavor() -> Response | None:
        decision = decide_request(request.path, request.headers)
        journal.note(decision)
        refusal = decision.refusal
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

    @bp.get(f"{PREFIX}/", strict_slashes=False)
    @bp.get(f"{PREFIX}/<path:key>")
    def value(key: str = "") -> Response:
        if request.path == PREFIX:  # the root directory asked for without its slash
            return _moved("")
        try:
            found = tree.answer(
                server.directory(),
                key,
                recursive=request.args.get("recursive"),
                alt=request.args.get("alt"),
            )
        except tree.BadParameter as bad:
            raise MetadataError(400, str(bad)) from None
        if found.status == 404:
            raise MetadataError(404, not_found_page(request.path))
        if found.location is not None:
            return _moved(found.location)
        return _json_text(found.body) if found.is_json else _text(found.body)

    @bp.get(f"{PREFIX}/instance/service-accounts/<alias>/token")
    def token(alias: str) -> Response:
        body = server.access_token(alias, request.args.get("scopes"))
        _journal_account(server, alias)
        return _json(body)

    @bp.get(f"{PREFIX}/instance/service-accounts/<alias>/identity")
    def identity(alias: str) -> Response:
        token = server.identity(alias, request.args.get("audience"), request.args.get("format"))
        _journal_account(server, alias)
        return _text(token)

    @bp.errorhandler(MetadataError)
    def metadata_error(error: MetadataError) -> tuple[Response, int]:
        # Google's metadata server answers errors as HTML or text, never a Google API's JSON.
        journal.refused(error.refusal())
        if error.status == 404:
            note = None if error.text.startswith("<!DOCTYPE") else error.text
            page = not_found_page(request.path, note)
            return Response(page, content_type="text/html; charset=UTF-8"), 404
        return Response(error.text, mimetype="text/html"), error.status

    return bp


def _journal_account(server: MetadataServer, alias: str) -> None:
    """The journal's checks of a token the VM's account was given: which account, who."""
    email = server.account(alias).email
    caller = {"principal": f"serviceAccount:{email}", "members": [f"serviceAccount:{email}"]}
    journal.add_checks(
        Check("account", True, "the VM's service account (local.metadataServiceAccount)", email),
        Check("caller", True, None, caller),
    )


def _text(body: str) -> Response:
    return Response(body, mimetype="application/text")


def _moved(key: str) -> Response:
    # Google answers a directory without its trailing slash with 301 to the slashed URL, the
    # query kept (gcp-metadata #361: .../v1/instance -> .../v1/instance/).
    target = f"{request.host_url.rstrip('/')}{PREFIX}/{key.lstrip('/')}"
    if request.query_string:
        target += "?" + request.query_string.decode("latin-1")
    page = f'<a href="{html.escape(target)}">Moved Permanently</a>.\n\n'
    response = Response(page, status=301, mimetype="text/html")
    response.headers["Location"] = target
    return response


def _json_text(body: str) -> Response:
    return Response(body, mimetype="application/json")


def _json(body: dict) -> Response:
    # google-auth requires application/json to parse the token response.
    return Response(json.dumps(body), mimetype="application/json")
