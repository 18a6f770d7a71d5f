"""STS over HTTP: `POST /v1/token` in the three encodings clients send, and `/v1/introspect`."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from mock_gcp.backend import GoogleBackend
from mock_gcp.journal import http as journal
from mock_gcp.sts import exchange as sts
from mock_gcp.sts.exchange import MAX_OPTIONS_LENGTH, SecurityTokenService, StsError
from wiflab_core import json_limits

# options may be 4 MiB (sts.v1.json), sent percent-encoded twice by google-auth (each
# character up to 5 on the wire), beside the subject token: room for all of it.
MAX_TOKEN_REQUEST_BYTES = 6 * MAX_OPTIONS_LENGTH


def blueprint(backend: GoogleBackend) -> Blueprint:
    bp = Blueprint("sts", __name__)
    service = SecurityTokenService(backend)

    @bp.post("/v1/token")
    def token() -> Response:
        request.max_content_length = MAX_TOKEN_REQUEST_BYTES
        request.max_form_memory_size = MAX_TOKEN_REQUEST_BYTES
        fields = _fields()
        outcome = service.decide(fields)
        journal.note(outcome.decision, fields)
        if outcome.error is not None:
            raise outcome.error
        assert outcome.exchange is not None
        return jsonify(outcome.exchange.response(backend.now()))

    @bp.post("/v1/introspect")
    def introspect() -> Response:
        client_id = request.authorization.username if request.authorization else None
        fields = _fields()
        body = sts.introspect(
            backend, str(fields.get("token") or ""), client_id or fields.get("client_id")
        )
        return jsonify(body)

    return bp


def _fields() -> dict:
    if request.mimetype == "application/json":
        try:
            # Depth bounded before parsing; NaN, Infinity and lone surrogates refused.
            body = json_limits.loads(request.get_data(), "body")
        except json_limits.JsonInputError as exc:
            # unverified: Google's words after "Invalid JSON payload received."
            text = f"Invalid JSON payload received. {exc}"
            raise StsError(400, "invalid_request", text) from None
        if not isinstance(body, dict):
            raise StsError(400, "invalid_request", "Invalid JSON payload received.")  # unverified
        return body
    return request.form.to_dict()
