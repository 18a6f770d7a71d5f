"""The presets' HTTP layer: one issuer path per real provider on the lab IdP.

- ``GET /presets``: ``{"presets": {name: {"title", "issuer", "real_issuer", "variants"}}}``
- ``GET /presets/NAME/.well-known/openid-configuration``: discovery with the preset's issuer
  (``IDP_URL/presets/NAME``, or the real issuer on the real issuer's host);
- ``GET /presets/NAME/certs`` (and ``/.well-known/jwks``, GitHub's path): the IdP's keys;
- ``POST /presets/NAME/token`` with ``{"variant", "params", "aud"}`` (idp_server.presets
  .minting), guarded like ``/token``; the JWT as text, or JSON with ``Accept: application/json``;
- ``GET /presets/NAME/token?variant=&aud=&PARAM=``: the same, always JSON ``{"id_token"}``
  (for google-auth's url-sourced credentials).

A request whose Host is a preset's real issuer host (token.actions.githubusercontent.com,
gitlab.com, ...: intercept mode routes them here) is served from that preset's path, with the
real issuer (``real_host_paths``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, request
from werkzeug.wrappers import Response

from idp_server.keystore import KeyStore
from idp_server.minting import Minter
from idp_server.presets import PRESETS, Preset
from idp_server.presets.minting import (
    PresetRequest,
    find_preset,
    parse_request,
    preset_claims,
    request_from_query,
)
from idp_server.responses import JSON, TEXT, discovery_document, json_response, text_response

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


def real_hosts() -> dict[str, Preset]:
    """Real issuer host -> its preset, for the presets whose host has no placeholder."""
    hosts: dict[str, Preset] = {}
    for preset in PRESETS.values():
        host = urlsplit(preset.real_issuer).hostname or ""
        if "{" not in host and host not in hosts:
            hosts[host] = preset
    return hosts


def real_host_paths(app: WsgiApp) -> WsgiApp:
    """Serve ``https://REAL_HOST/PATH`` as ``/presets/NAME/PATH`` (intercept mode)."""
    hosts = real_hosts()

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        host = (environ.get("HTTP_HOST") or "").rsplit(":", 1)[0].lower().rstrip(".")
        preset = hosts.get(host)
        if preset is not None:
            prefix = urlsplit(preset.real_issuer).path.rstrip("/")
            path = environ.get("PATH_INFO", "")
            if "{" not in prefix and path.startswith(prefix):
                environ = {
                    **environ,
                    "PATH_INFO": preset.issuer_path + path[len(prefix) :],
                    "wiflab.real_issuer": preset.name,
                }
        return app(environ, start_response)

    return dispatch


def presets_blueprint(
    store: KeyStore,
    minter: Minter,
    base_issuer: Callable[[], str],
    defaults: Mapping[str, Mapping[str, str]],
    clock: Callable[[], float] = time.time,
) -> Blueprint:
    blueprint = Blueprint("presets", __name__)

    def issuer(preset: Preset) -> str:
        if request.environ.get("wiflab.real_issuer") == preset.name:
            return preset.issuer_for(**defaults.get(preset.name, {}))
        return base_issuer() + preset.issuer_path

    @blueprint.get("/presets")
    def listing() -> Response:
        return json_response(
            {
                "presets": {
                    name: {
                        "title": preset.title,
                        "issuer": base_issuer() + preset.issuer_path,
                        "real_issuer": preset.real_issuer,
                        "variants": dict(preset.variants),
                    }
                    for name, preset in PRESETS.items()
                }
            }
        )

    @blueprint.get("/presets/<name>/.well-known/openid-configuration")
    def discovery(name: str) -> Response:
        preset = find_preset(name)
        return Response(_discovery(issuer(preset)), mimetype=JSON)

    @blueprint.get("/presets/<name>/certs")
    @blueprint.get("/presets/<name>/.well-known/jwks")
    def certs(name: str) -> Response:
        find_preset(name)
        return Response(store.current().jwks_json, mimetype=JSON)

    def mint(name: str, asked: PresetRequest) -> tuple[str, int]:
        minter.check_caller(request.headers.get("Authorization"))
        preset = find_preset(name)
        now = int(clock())
        claims = preset_claims(
            preset, asked, issuer=issuer(preset), defaults=defaults.get(name, {}), now=now
        )
        key = store.current().signer(alg=request.args.get("alg"), kid=request.args.get("kid"))
        exp = claims.get("exp")
        return key.sign(claims), max(0, exp - now) if isinstance(exp, int) else 0

    @blueprint.post("/presets/<name>/token", provide_automatic_options=False)
    def mint_posted(name: str) -> Response:
        token, expires_in = mint(name, parse_request(request.get_data(cache=False)))
        if request.accept_mimetypes.best_match([TEXT, JSON]) == JSON and request.headers.get(
            "Accept"
        ):
            return json_response(
                {"id_token": token, "token_type": "Bearer", "expires_in": expires_in}
            )
        return text_response(token)

    @blueprint.get("/presets/<name>/token")
    def mint_query(name: str) -> Response:
        token, expires_in = mint(name, request_from_query(request.args))
        return json_response({"id_token": token, "token_type": "Bearer", "expires_in": expires_in})

    return blueprint


@functools.lru_cache(maxsize=64)
def _discovery(issuer: str) -> bytes:
    return discovery_document(issuer, ["aud", "exp", "iat", "iss", "jti", "nbf", "sub"])
