"""Okta's access tokens from a custom authorization server (client credentials), as in
Google's identity-labs Okta lab.

``iss`` ``https://DOMAIN.okta.com/oauth2/AUTH_SERVER_ID``, ``sub`` and ``cid`` the client id,
``scp`` a list, ``ver`` the number 1, ``aud`` the server's audience (``api://default``). The org
authorization server (``https://DOMAIN.okta.com``) signs tokens others cannot verify: the
``org_authorization_server`` variant has that issuer. Google gives no template.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idp_server.presets.base import Attack, Param, Preset, audience_claim, stable_hex


def _build(
    variant: str, p: Mapping[str, str], issuer: str, aud: list[str] | None, now: int
) -> dict[str, Any]:
    if variant == "org_authorization_server":
        issuer = f"https://{p['domain']}.okta.com"
    return {
        "ver": 1,
        "jti": "AT." + stable_hex("jti", p["client_id"], str(now), length=43),
        "iss": issuer,
        "aud": audience_claim(aud),
        "iat": now,
        "exp": now + 3600,
        "cid": p["client_id"],
        "scp": p["scopes"].split(),
        "sub": p["client_id"],
    }


OKTA = Preset(
    name="okta",
    title="Okta (custom authorization server)",
    real_issuer="https://{domain}.okta.com/oauth2/{auth_server_id}",
    default_audience="api://default",
    params={
        "domain": Param("acme", "the Okta org's subdomain"),
        "auth_server_id": Param("aus1a2b3c4d5E6f7g8h9", "the custom authorization server"),
        "client_id": Param("0oa1b2c3d4e5F6g7h8i9", "the service app's client id"),
        "scopes": Param("gcp.federation", "the scopes granted, space-separated"),
    },
    variants={
        "client_credentials": "a service app's token (client credentials)",
        "org_authorization_server": "a token of the org server, which others cannot verify",
    },
    shared_issuer=False,
    id_claims={},
    string_id_claims=frozenset({"cid"}),
    template=None,
    attacks={
        "other_client": Attack(
            "another app of the same authorization server",
            {"client_id": "0oa9z8y7x6w5V4u3t2s1"},
        ),
    },
    longest={},
    longest_variant="client_credentials",
    build=_build,
)
