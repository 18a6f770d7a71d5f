"""The IdP's HTTP layer: a Flask app factory; the rules live in minting, keyset and guard.

Routes:
- ``GET /.well-known/openid-configuration`` and ``GET /certs``: public (STS reads them).
- ``POST /token``: the body is the claims object; the answer is the signed JWT as
  ``text/plain``, or ``{"id_token", "token_type", "expires_in"}`` with
  ``Accept: application/json``. Query parameters pick the key: ``?alg=ES256`` (the active
  key if it has that alg, else a published one), ``?kid=<kid>`` (any key not retired,
  including a held one, whose tokens then cannot be verified).
- ``GET /token/<profile>``: a fresh token for a claim profile configured at start-up, always
  as JSON ``{"id_token": ...}`` (for google-auth's url credential source, format json);
  takes the same query parameters, and ``?aud=`` sets the token's audience.
- ``/admin/keys``: rotation, see idp_server.admin.
- ``GET /healthz``.

When minting is guarded (a token secret is set, as it must be beyond loopback), /token
needs ``Authorization: Bearer <IDP_TOKEN_SECRET>``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from idp_server.admin import register_admin_routes
from idp_server.errors import IdpError
from idp_server.guard import require_bearer
from idp_server.keystore import KeyStore, initial_keyset
from idp_server.minting import (
    MAX_BODY_BYTES,
    ClaimRules,
    check_profiles,
    complete_claims,
    parse_claims,
)
from idp_server.responses import JSON, json_response
from idp_server.settings import IdpSettings, normalise_issuer
from wiflab.keys import SUPPORTED_ALGS

log = logging.getLogger(__name__)

TEXT = "text/plain"

_HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


def create_app(settings: IdpSettings | None = None) -> Flask:
    """The IdP; with no settings, they come from the ``IDP_*`` environment variables."""
    if settings is None:
        settings = IdpSettings.from_env(os.environ)
    settings.require_issuer()
    rules = ClaimRules(settings.token_ttl, settings.max_lifetime, settings.allow_foreign_issuer)
    check_profiles(settings.profiles, issuer=settings.issuer, now=int(time.time()), rules=rules)
    if settings.key_state is not None:
        store = KeyStore.open(settings.key_state)
    else:
        store = KeyStore(initial_keyset(settings.key_source))
    if settings.allow_public_minting:
        log.warning(
            "!!! IDP_ALLOW_PUBLIC_MINTING=1: anyone who reaches %s can mint tokens !!!",
            settings.bind_host,
        )

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    if settings.issuer_from_host:
        # Behind Cloud Run's front end the scheme and host arrive as X-Forwarded-*.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1)  # type: ignore[method-assign]

    def issuer() -> str:
        return settings.issuer or normalise_issuer(request.host_url)

    def guard_minting() -> None:
        if settings.minting_secret is not None:
            require_bearer(
                request.headers.get("Authorization"),
                settings.minting_secret,
                "mint tokens",
                "IDP_TOKEN_SECRET",
            )

    def token_response(claims: dict[str, Any], as_json: bool) -> Response:
        now = int(time.time())
        completed = complete_claims(claims, issuer=issuer(), now=now, rules=rules)
        key = store.current().signer(alg=request.args.get("alg"), kid=request.args.get("kid"))
        token = key.sign(completed)
        if not as_json:
            return Response(token, mimetype=TEXT)
        expires_in = max(0, completed["exp"] - now)
        return json_response({"id_token": token, "token_type": "Bearer", "expires_in": expires_in})

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        return Response(_discovery_document(issuer()), mimetype=JSON)

    @app.get("/certs")
    def certs() -> Response:
        return Response(store.current().jwks_json, mimetype=JSON)

    @app.post("/token")
    def mint() -> Response:
        guard_minting()
        claims = parse_claims(request.get_data(cache=False))
        wants_json = request.accept_mimetypes.best_match([TEXT, JSON]) == JSON
        return token_response(claims, as_json=wants_json)

    @app.get("/token/<profile>")
    def mint_profile(profile: str) -> Response:
        guard_minting()
        claims = settings.profiles.get(profile)
        if claims is None:
            known = ", ".join(sorted(settings.profiles)) or "none"
            raise IdpError(404, "not_found", f"profile: {profile!r} is not configured ({known})")
        # One profile serves several providers: each url-sourced credential names its aud.
        audience = request.args.get("aud")
        return token_response({**claims, **({"aud": audience} if audience else {})}, as_json=True)

    @app.get("/healthz")
    def healthz() -> Response:
        return json_response({"status": "ok"})

    register_admin_routes(app, store, settings.admin_secret)

    @app.errorhandler(IdpError)
    def refused(exc: IdpError) -> Response:
        if exc.status == 401:
            log.warning("refused %s %s: %s", request.method, request.path, exc.description)
        response = json_response(exc.body(), exc.status)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 400
        description = {
            404: f"path: nothing is served at {request.path}",
            405: f"method: {request.method} is not allowed on {request.path}",
            413: f"body: larger than the {MAX_BODY_BYTES}-byte limit",
        }.get(status, f"request: {exc.description}")
        response = json_response(
            {
                "error": _HTTP_ERRORS.get(status, "invalid_request"),
                "error_description": description,
            },
            status,
        )
        if getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    return app


@functools.lru_cache(maxsize=64)
def _discovery_document(issuer: str) -> bytes:
    return json.dumps(
        {
            "issuer": issuer,
            "jwks_uri": f"{issuer}/certs",
            "token_endpoint": f"{issuer}/token",
            "id_token_signing_alg_values_supported": list(SUPPORTED_ALGS),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "claims_supported": [
                "aud",
                "email",
                "email_verified",
                "exp",
                "iat",
                "iss",
                "jti",
                "name",
                "nbf",
                "sub",
            ],
        }
    ).encode("utf-8")
