"""The real identity providers' own token endpoints, so their tooling runs unmodified.

Each route mints a preset's token (``idp_server.presets``) issued by the preset's issuer on
this IdP (``ISSUER + preset.issuer_path``, whose discovery and certs idp_server.presets_http
serves there). Params: the preset's defaults, then the IdP's ``presets`` (the topology's
``idp.presets``), then the request's.

- ``GET /ci/github/idtoken?api-version=2.0[&variant=V][&PARAM=VALUE...]&audience=AUD`` with
  ``Authorization: Bearer <ACTIONS_ID_TOKEN_REQUEST_TOKEN>``: GitHub Actions' OIDC request
  protocol. @actions/core's ``OidcClient.getIDToken`` (lib/oidc-utils.js) appends
  ``&audience=<encodeURIComponent(aud)>`` to ``ACTIONS_ID_TOKEN_REQUEST_URL`` (which always
  carries a query already), GETs it with that bearer and reads the JSON field ``value``.
  Without ``audience`` GitHub uses the owner's URL (``https://github.com/OWNER``). The
  preset's params in the URL say which job it is (what GitHub's URL path encodes as plan and
  job ids); wiflab_lab.ci_env writes them.
- ``GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=RES`` with
  ``Metadata: true``: Azure's instance metadata identity endpoint, answering Azure's JSON
  (``access_token``, ``expires_in``, ``expires_on``, ``resource``, ``token_type``, ...) with
  the azure preset's token for ``aud=RES``; IMDS's own ``client_id`` / ``object_id`` pick the
  identity. Guarded like ``/token`` (IDP_TOKEN_SECRET) when the IdP has a token secret.

The request token of GitHub's protocol is a per-run secret (``IdpSettings.ci_request_token``,
made when the settings are), compared in constant time and never logged or echoed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from flask import Blueprint, request
from werkzeug.wrappers import Response

from idp_server.errors import IdpError, invalid_request
from idp_server.guard import require_bearer
from idp_server.minting import Minter
from idp_server.responses import json_response

GITHUB_ROUTE = "/ci/github/idtoken"
AZURE_ROUTE = "/metadata/identity/oauth2/token"
# What GitHub's runtime URL carries before @actions/core appends &audience=.
GITHUB_API_VERSION = "2.0"
# The query names of GitHub's route that are not the preset's params.
GITHUB_QUERY = ("api-version", "audience", "variant")
# Azure IMDS's identity API versions (learn.microsoft.com, "How to use managed identities for
# Azure resources on an Azure VM to acquire an access token"); google-auth's docs use the first.
# unverified: that these are all of them (an unknown one is refused, see below).
AZURE_API_VERSIONS = ("2018-02-01", "2019-08-01", "2019-11-01", "2020-06-01", "2021-02-01")
# IMDS's own query parameters that choose a user-assigned identity, and the preset's params.
AZURE_IDENTITY_QUERY = {"client_id": "client_id", "object_id": "object_id"}


def ci_blueprint(
    minter: Minter,
    issuer: Callable[[], str],
    request_token: str,
    *,
    defaults: Mapping[str, Mapping[str, str]] | None = None,
    clock: Callable[[], float] = time.time,
) -> Blueprint:
    """The routes above; ``issuer`` gives the IdP's issuer for the request being served."""
    blueprint = Blueprint("ci_endpoints", __name__)
    defaults = defaults or {}

    def mint(
        name: str, variant: str | None, audience: str | None, params: Mapping[str, str]
    ) -> tuple[str, int, int]:
        """(token, iat, exp) of preset ``name``."""
        from idp_server.presets import PRESETS
        from idp_server.presets.minting import PresetRequest, preset_claims

        preset = PRESETS[name]
        unknown = sorted(set(params) - set(preset.params))
        if unknown:  # named here: a query name such as issuer or now is no keyword to claims()
            known = ", ".join(preset.params)
            raise invalid_request(f"{unknown[0]}: not a param of {name} ({known})")
        preset_issuer = issuer() + preset.issuer_path
        asked = PresetRequest(variant, params, audience)
        claims = preset_claims(  # a 400 naming the bad param, variant or aud
            preset, asked, issuer=preset_issuer, defaults=defaults.get(name, {}), now=int(clock())
        )
        minted = minter.mint(claims, issuer=preset_issuer)
        now = int(clock())
        iat, exp = claims.get("iat", now), claims.get("exp", now + minted.expires_in)
        return minted.token, int(iat), int(exp)

    @blueprint.get(GITHUB_ROUTE)
    def github_id_token() -> Response:
        _require_request_token(request.headers.get("Authorization"), request_token)
        if request.args.get("api-version") != GITHUB_API_VERSION:
            # unverified: what GitHub's runtime says without its own api-version.
            raise invalid_request(f"api-version: expected {GITHUB_API_VERSION!r}")
        params = {k: v for k, v in request.args.items() if k not in GITHUB_QUERY}
        audience = request.args.get("audience") or None
        token, _, _ = mint("github", request.args.get("variant") or None, audience, params)
        # unverified: GitHub's runtime answers {"count": N, "value": JWT} (count as seen in
        # published curl output); @actions/core reads only "value".
        return json_response({"count": len(token), "value": token})

    @blueprint.get(AZURE_ROUTE)
    def azure_identity_token() -> Response:
        # Real IMDS answers only its own VM (link-local); here, beyond loopback, the /token
        # guard (IDP_TOKEN_SECRET as a bearer, which a url source's headers can carry).
        minter.check_caller(request.headers.get("Authorization"))
        # Azure's check is on the header's value: "true", in any case (Metadata: True too).
        if request.headers.get("Metadata", "").strip().lower() != "true":
            raise _azure_error("Required metadata header not specified")
        version = request.args.get("api-version")
        if not version:
            # unverified: the text of IMDS's refusal without api-version.
            raise _azure_error("Required query variable 'api-version' missing")
        if version not in AZURE_API_VERSIONS:
            # unverified: the text of IMDS's refusal of an unknown api-version.
            raise _azure_error("Invalid version")
        resource = request.args.get("resource")
        if not resource:
            # unverified: the text of IMDS's refusal without resource.
            raise _azure_error("Required audience variable missing")
        params = {
            param: request.args[name]
            for name, param in AZURE_IDENTITY_QUERY.items()
            if request.args.get(name)
        }
        token, iat, exp = mint("azure", None, resource, params)
        now = int(clock())
        # Azure's answer: every number as a string (learn.microsoft.com, how-to-use-vm-token).
        return json_response(
            {
                "access_token": token,
                "refresh_token": "",
                "expires_in": str(max(0, exp - now)),
                "expires_on": str(exp),
                "ext_expires_in": str(max(0, exp - now)),
                "not_before": str(iat),
                "resource": resource,
                "token_type": "Bearer",
            }
        )

    return blueprint


def _require_request_token(authorization: str | None, expected: str) -> None:
    """GitHub's runtime refuses a request without the job's request token.

    unverified: GitHub documents no refusal; its runtime (Azure DevOps' pipelines service)
    answers 401 to a missing or wrong bearer, as assumed here. @actions/http-client then
    throws with ``statusCode`` 401, so the action fails with "Failed to get ID Token".
    """
    require_bearer(authorization, expected, "request an ID token", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")


def _azure_error(description: str) -> IdpError:
    """IMDS's refusals: 400 ``{"error": "invalid_request", "error_description"}``."""
    return IdpError(400, "invalid_request", description)
