"""What ``/oauth2/v3/tokeninfo`` says of the stand-in's access and ID tokens."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mock_gcp.backend import GoogleBackend
from mock_gcp.errors import OAuthError
from wiflab_core import jose
from wiflab_core.decisions import Decision, Trace

SERVICE = "issuer"
INVALID_TOKEN = OAuthError(400, "invalid_token", "Invalid Value")


@dataclass(frozen=True)
class TokenInfo:
    """The decision; the token's info when it is one of ours, Google's error otherwise."""

    decision: Decision
    info: dict[str, str] | None = None
    error: OAuthError | None = None


def decide(backend: GoogleBackend, access_token: str | None, id_token: str | None) -> TokenInfo:
    """What ``/oauth2/v3/tokeninfo`` says of one of our tokens; values are strings there."""
    trace = Trace()
    try:
        info = _tokeninfo(trace, backend, access_token, id_token)
    except OAuthError as error:
        return TokenInfo(trace.decision(SERVICE, "tokeninfo", error.refusal()), None, error)
    return TokenInfo(trace.decision(SERVICE, "tokeninfo"), info)


def tokeninfo(backend: GoogleBackend, access_token: str | None, id_token: str | None) -> dict:
    """``decide``'s info, or raises its OAuthError."""
    result = decide(backend, access_token, id_token)
    if result.error is not None:
        raise result.error
    assert result.info is not None
    return result.info


def _tokeninfo(
    trace: Trace, backend: GoogleBackend, access_token: str | None, id_token: str | None
) -> dict[str, str]:
    now = backend.now()
    if access_token:
        issued = backend.tokens.lookup(access_token)
        # Federated tokens are not OAuth access tokens: tokeninfo does not know them.
        kind = issued.kind if issued else None
        if not trace.check("access_token", kind == "access", "a live access token", kind):
            raise INVALID_TOKEN
        assert issued is not None
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
            verified = backend.issuer.check(id_token)
        except jose.TokenRejected as rejected:
            trace.extend(rejected.checks)
            raise INVALID_TOKEN from None
        trace.extend(verified.checks)
        info = {k: _as_string(v) for k, v in verified.claims.items()}
        header = verified.header
        info.update(alg=str(header.get("alg")), kid=str(header.get("kid")), typ="JWT")
        return info
    trace.check("request", False, "access_token or id_token", None)
    raise OAuthError(400, "invalid_request", "either access_token or id_token is required")


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)
