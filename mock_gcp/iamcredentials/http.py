"""``POST /v1/projects/-/serviceAccounts/{ID}:{method}`` as the REST clients send it."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from mock_gcp.backend import GoogleBackend
from mock_gcp.errors import invalid_argument
from mock_gcp.iamcredentials.methods import IamCredentials
from mock_gcp.journal import http as journal
from wiflab_core import json_limits


def blueprint(backend: GoogleBackend) -> Blueprint:
    bp = Blueprint("iamcredentials", __name__)
    service = IamCredentials(backend)

    # google-cloud-iam percent-encodes the "@" and appends "?$alt=json;enum-encoding=int";
    # Flask decodes the path and the query is ignored, as Google's front end does.
    @bp.get("/v1/projects/<project>/serviceAccounts/<path:account>/allowedLocations")
    def allowed_locations(project: str, account: str) -> Response:
        outcome = service.allowed_locations(
            f"projects/{project}/serviceAccounts/{account}", request.headers.get("Authorization")
        )
        journal.note(outcome.decision)
        if outcome.error is not None:
            raise outcome.error
        return jsonify(outcome.body)

    @bp.post("/v1/projects/<project>/serviceAccounts/<path:account_method>")
    def call(project: str, account_method: str) -> Response:
        account, sep, method = account_method.rpartition(":")
        if not sep:
            raise invalid_argument()
        data = request.get_data()
        try:
            # Depth bounded before parsing; NaN, Infinity and lone surrogates refused.
            body = json_limits.loads(data, "body") if data else {}
        except json_limits.JsonInputError as exc:
            text = f"Invalid JSON payload received. {exc.problem}"  # unverified after the "."
            raise invalid_argument(text, **{exc.field: text}) from None
        outcome = service.call(
            method,
            f"projects/{project}/serviceAccounts/{account}",
            request.headers.get("Authorization"),
            body,
        )
        journal.note(outcome.decision, body if isinstance(body, dict) else None)
        if outcome.error is not None:
            raise outcome.error
        return jsonify(outcome.body)

    return bp
