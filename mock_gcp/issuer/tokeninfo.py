"""What ``/oauth2/v3/tokeninfo`` says of the stand-in's access and ID tokens."""

from __future__ import annotations

import json
from typing import Any

import jwt

from mock_gcp.backend import GoogleBackend
from mock_gcp.errors import OAuthError

INVALID_TOKEN = OAuthError(400, "invalid_token", "Invalid Value")


def tokeninfo(backend: GoogleBackend, access_token: str | None, id_token: str | None) -> dict:
    """What ``/oauth2/v3/tokeninfo`` says of one of our tokens; values are strings there."""
    now = backend.now()
    if access_token:
        issued = backend.tokens.lookup(access_token)
        # Federated tokens are not OAuth access tokens: tokeninfo does not know them.
        if issued is None or issued.kind != "access":
            raise INVALID_TOKEN
        account = backend.topology.service_account(issued.caller.name)
        unique_id = account.unique_id if account else issued.caller.name
        return {
            "azp": unique_id,
            "aud": unique_id,
            "scope": " ".join(issued.scopes),
            "exp": str(int(issued.expires_at)),
            "expires_in": str(issued.expires_in(now)),
            "email": issued.caller.name,
            "email_verified": "true",
            "access_type": "online",
        }
    if id_token:
        try:
            header = jwt.get_unverified_header(id_token)
            claims = backend.issuer.verify(id_token)
        except jwt.PyJWTError:
            raise INVALID_TOKEN from None
        info = {k: _as_string(v) for k, v in claims.items()}
        info.update(alg=str(header.get("alg")), kid=str(header.get("kid")), typ="JWT")
        return info
    raise OAuthError(400, "invalid_request", "either access_token or id_token is required")


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)
