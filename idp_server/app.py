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
- ``/presets/NAME/...``: real providers' issuers (discovery, certs, token), see
  idp_server.presets_http.
- ``GET /healthz``.

When minting is guarded (a token secret is set, as it must be beyond loopback), both token
routes need ``Authorization: Bearer <IDP_TOKEN_SECRET>``.

``/token`` is the one hot route. Profiled under gunicorn (bench/idp_tokens.py, py-spy), a
token's worker time goes to RS256 signing (~40-50 %, OpenSSL's floor), gunicorn's sync worker
and the TCP connection (~25-35 %), Flask's request machinery (~9 %) and the IdP's own rules
(~5 %). So the view does only what each request needs: no query parsing without a query, no
Accept parsing without an Accept header, response headers given whole, and no session or
before-request hooks (no secret key, so Flask opens only its null session; the guard
hook is on /admin alone).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time

from flask import Flask, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from idp_server.admin import admin_blueprint
from idp_server.errors import IdpError
from idp_server.keystore import KeyStore, initial_keyset
from idp_server.minting import MAX_BODY_BYTES, ClaimRules, Minter, check_profiles, parse_claims
from idp_server.presets_http import presets_blueprint, real_host_paths
from idp_server.responses import (
    JSON,
    TEXT,
    discovery_document,
    error_response,
    json_response,
    text_response,
)
from idp_server.settings import IdpSettings, normalise_issuer
from wiflab_core.request_body import guard_input

log = logging.getLogger(__name__)

_HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed"}
# A DNS name or an IP literal, with an optional port: nothing else becomes part of an issuer.
_HOST = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?(?::\d{1,5})?"
    r"|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?"
)


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
    minter = Minter(rules, store, settings.minting_secret)
    if settings.allow_public_minting:
        log.warning(
            "!!! IDP_ALLOW_PUBLIC_MINTING=1: anyone who reaches %s can mint tokens !!!",
            settings.bind_host,
        )

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    # A malformed chunked body or a client gone mid-body is a 400, under every server.
    app.wsgi_app = guard_input(app.wsgi_app)  # type: ignore[method-assign,assignment]

    def issuer() -> str:
        """The configured issuer, else (IDP_ISSUER_FROM_HOST) the URL this request came in on.

        The host is the Host header: Cloud Run routes on it, so there it is the service's own
        name. X-Forwarded-Host is never read (Cloud Run does not set it: any value is the
        caller's). X-Forwarded-Proto is read only from a trusted proxy (IDP_TRUSTED_PROXIES).
        """
        if settings.issuer is not None:
            return settings.issuer
        scheme = request.scheme
        forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if forwarded in ("http", "https") and settings.trusts_proxy(request.remote_addr):
            scheme = forwarded
        host = request.headers.get("Host", "")
        if not _HOST.fullmatch(host):
            raise IdpError(400, "invalid_request", "Host: not a host name (IDP_ISSUER_FROM_HOST)")
        return normalise_issuer(f"{scheme}://{host.lower()}{request.root_path}")

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        return Response(_discovery_document(issuer()), mimetype=JSON)

    @app.get("/certs")
    def certs() -> Response:
        return Response(store.current().jwks_json, mimetype=JSON)

    # No automatic OPTIONS: /token answers every method but POST with a 405 naming POST.
    @app.post("/token", provide_automatic_options=False)
    def mint_posted() -> Response:
        minter.check_caller(request.headers.get("Authorization"))
        claims = parse_claims(_read_body())
        alg, kid = _key_choice()
        minted = minter.mint(claims, issuer=issuer(), alg=alg, kid=kid)
        if _wants_json():
            return json_response(minted.as_json())
        return text_response(minted.token)

    @app.get("/token/<profile>")
    def mint_profile(profile: str) -> Response:
        minter.check_caller(request.headers.get("Authorization"))
        claims = settings.profiles.get(profile)
        if claims is None:
            known = ", ".join(sorted(settings.profiles)) or "none"
            raise IdpError(404, "not_found", f"profile: {profile!r} is not configured ({known})")
        # One profile serves several providers: each url-sourced credential names its aud.
        audience = request.args.get("aud")
        alg, kid = _key_choice()
        minted = minter.mint(
            {**claims, **({"aud": audience} if audience else {})}, issuer=issuer(), alg=alg, kid=kid
        )
        return json_response(minted.as_json())

    @app.get("/healthz")
    def healthz() -> Response:
        return json_response({"status": "ok"})

    app.register_blueprint(admin_blueprint(store, settings.admin_secret))
    # The real providers' issuers, at /presets/NAME (and on their own hosts when intercepted).
    app.register_blueprint(presets_blueprint(store, minter, issuer, settings.presets))
    app.wsgi_app = real_host_paths(app.wsgi_app)  # type: ignore[method-assign,assignment]

    @app.errorhandler(IdpError)
    def refused(exc: IdpError) -> Response:
        return error_response(exc, request.path)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 400
        if status == 413:
            return error_response(too_large(), request.path)
        description = {
            404: f"path: nothing is served at {request.path}",
            405: f"method: {request.method} is not allowed on {request.path}",
        }.get(status, f"request: {exc.description}")
        allowed = getattr(exc, "valid_methods", None)
        headers = {"Allow": ", ".join(allowed)} if allowed else None
        error = IdpError(status, _HTTP_ERRORS.get(status, "invalid_request"), description, headers)
        return error_response(error, request.path)

    return app


def _read_body() -> bytes:
    # One byte over the limit is read, so that a chunked body (no Content-Length) that is too
    # large is told apart from one exactly at the limit: werkzeug stops quietly at its limit.
    request.max_content_length = MAX_BODY_BYTES + 1
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY_BYTES:
        raise too_large()
    return body


def _key_choice() -> tuple[str | None, str | None]:
    """``?alg=`` and ``?kid=``; most requests have no query, and then no parsing is needed."""
    if not request.query_string:
        return None, None
    return request.args.get("alg"), request.args.get("kid")


def _wants_json() -> bool:
    """JSON only when asked for: text/plain (what curl users expect) otherwise and on ties."""
    if not request.headers.get("Accept"):
        return False
    return request.accept_mimetypes.best_match([TEXT, JSON]) == JSON


def too_large() -> IdpError:
    return IdpError(413, "request_too_large", f"body: larger than the {MAX_BODY_BYTES}-byte limit")


@functools.lru_cache(maxsize=64)
def _discovery_document(issuer: str) -> bytes:
    claims = ["aud", "email", "email_verified", "exp", "iat", "iss", "jti", "name", "nbf", "sub"]
    return discovery_document(issuer, claims)
