"""What ``POST /presets/NAME/token`` asks for, checked, and the claims it gets (no HTTP here).

The body: ``{"variant": "pull_request", "params": {"repository": "acme/app"}, "aud": "..."}``
(every field optional; ``aud`` a string or a list of strings). Params are layered: the preset's
defaults, then the topology's ``idp.presets.NAME`` (the IdP's ``IDP_PRESETS``), then the
request's and what they imply (``Preset.layered``). The issuer is the lab IdP's preset path
(``IDP_URL/presets/NAME``), or the real issuer when the request came in on the real issuer's
host (intercept mode).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from idp_server.errors import IdpError, invalid_request
from idp_server.presets import PRESETS, Preset, PresetError
from wiflab_core import json_limits

_FIELDS = ("variant", "params", "aud")


@dataclass(frozen=True)
class PresetRequest:
    variant: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    audience: str | list[str] | None = None


def find_preset(name: str) -> Preset:
    found = PRESETS.get(name)
    if found is None:
        raise IdpError(404, "not_found", f"preset: {name!r} is not one of {', '.join(PRESETS)}")
    return found


def parse_request(body: bytes) -> PresetRequest:
    """The request body, or a 400 naming the field that is wrong."""
    if not body.strip():
        return PresetRequest()
    try:
        fields: Any = json_limits.loads(body, "body")
    except json_limits.JsonInputError as exc:
        raise invalid_request(str(exc)) from None
    if not isinstance(fields, dict):
        raise invalid_request('body: expected a JSON object such as {"variant": "branch"}')
    unknown = sorted(set(fields) - set(_FIELDS))
    if unknown:
        raise invalid_request(f"{unknown[0]}: not a field (variant, params, aud)")
    variant = fields.get("variant")
    if variant is not None and not isinstance(variant, str):
        raise invalid_request("variant: must be a string")
    params = fields.get("params", {})
    if not isinstance(params, dict):
        raise invalid_request('params: must be an object of strings, e.g. {"owner": "acme"}')
    for name, value in params.items():
        if not isinstance(value, str):
            raise invalid_request(f"params.{name}: must be a string (ids are strings: quote them)")
    audience = fields.get("aud")
    if audience is not None and not (
        isinstance(audience, str)
        or (isinstance(audience, list) and all(isinstance(a, str) for a in audience))
    ):
        raise invalid_request("aud: must be a string or a list of strings")
    return PresetRequest(variant, params, audience)


def request_from_query(args: Mapping[str, str]) -> PresetRequest:
    """``GET /presets/NAME/token?variant=..&aud=..&PARAM=..`` (url-sourced credentials)."""
    params = {k: v for k, v in args.items() if k not in ("variant", "aud", "alg", "kid")}
    return PresetRequest(args.get("variant") or None, params, args.get("aud") or None)


def preset_claims(
    preset: Preset,
    request: PresetRequest,
    *,
    issuer: str,
    defaults: Mapping[str, str],
    now: int,
) -> dict[str, Any]:
    """The token's claims, or a 400 naming the bad variant, param or audience."""
    params = preset.layered(defaults, request.params)
    try:
        claims = preset.claims(
            request.variant, issuer=issuer, audience=request.audience, now=now, **params
        )
    except PresetError as exc:
        raise invalid_request(str(exc)) from None
    try:
        json_limits.check_value(claims)
    except json_limits.JsonInputError as exc:
        raise invalid_request(str(exc)) from None
    return claims


def check_defaults(presets: Mapping[str, Mapping[str, Any]]) -> None:
    """IDP_PRESETS: refused at start-up when a name or a param is not a preset's."""
    for name, params in presets.items():
        if name not in PRESETS:
            raise PresetError(f"IDP_PRESETS: {name!r} is not one of {', '.join(PRESETS)}")
        if not isinstance(params, Mapping):
            raise PresetError(f"IDP_PRESETS.{name}: must be an object of params")
        try:
            PRESETS[name].resolve(**params)
        except PresetError as exc:
            raise PresetError(f"IDP_PRESETS.{name}.{exc}") from None
