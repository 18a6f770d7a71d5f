"""Google's issuer endpoints: discovery, certs (JWKS and PEM map), tokeninfo, SA certs."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from mock_gcp.backend import GoogleBackend
from mock_gcp.errors import ApiError
from mock_gcp.issuer import tokeninfo as tokeninfo_rules
from mock_gcp.journal import http as journal

# Google's certs are cacheable for hours; verifiers (google-auth, pyjwt) honour it.
CERTS_CACHE_CONTROL = "public, max-age=3600, must-revalidate, no-transform"


def blueprint(backend: GoogleBackend) -> Blueprint:
    bp = Blueprint("oauth2", __name__)

    @bp.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        return jsonify(backend.issuer.discovery(request.host_url))

    @bp.get("/oauth2/v3/certs")
    def certs_v3() -> Response:
        return _cacheable(jsonify(backend.issuer.jwks()))

    @bp.get("/oauth2/v1/certs")
    def certs_v1() -> Response:
        return _cacheable(jsonify(backend.issuer.pem_map()))

    @bp.route("/oauth2/v3/tokeninfo", methods=["GET", "POST"])
    @bp.route("/tokeninfo", methods=["GET", "POST"])
    def tokeninfo() -> Response:
        return _tokeninfo(3)

    @bp.route("/oauth2/v2/tokeninfo", methods=["GET", "POST"])
    def tokeninfo_v2() -> Response:
        return _tokeninfo(2)

    def _tokeninfo(version: int) -> Response:
        values = request.values
        found = tokeninfo_rules.decide(
            backend, values.get("access_token"), values.get("id_token"), version
        )
        journal.note(found.decision)
        if found.error is not None:
            raise found.error
        assert found.info is not None
        return jsonify(found.info)

    @bp.get("/service_accounts/v1/metadata/x509/<email>")
    def account_certs(email: str) -> Response:
        return jsonify(backend.service_account_keys.certificates(_known(email)))

    @bp.get("/service_accounts/v1/jwk/<email>")
    def account_jwks(email: str) -> Response:
        return jsonify(backend.service_account_keys.jwks(_known(email)))

    def _known(email: str) -> str:
        account = backend.projects.service_account(email)
        if account is None:
            raise ApiError(404, "NOT_FOUND", f"Service account {email} not found.")
        return account.email

    return bp


def _cacheable(response: Response) -> Response:
    response.headers["Cache-Control"] = CERTS_CACHE_CONTROL
    return response
