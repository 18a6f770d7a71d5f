"""``GET /v1/projects/{id}`` and ``GET /v3/projects/{id}`` (Cloud Resource Manager)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from mock_gcp.backend import GoogleBackend
from mock_gcp.resource_manager import projects


def blueprint(backend: GoogleBackend) -> Blueprint:
    bp = Blueprint("cloudresourcemanager", __name__)

    # One segment only: /v1/projects/-/serviceAccounts/... is IAM Credentials'.
    @bp.get("/v1/projects/<name>")
    def get_v1(name: str) -> Response:
        return jsonify(projects.get(backend, 1, name, request.headers.get("Authorization")))

    @bp.get("/v3/projects/<name>")
    def get_v3(name: str) -> Response:
        return jsonify(projects.get(backend, 3, name, request.headers.get("Authorization")))

    return bp
