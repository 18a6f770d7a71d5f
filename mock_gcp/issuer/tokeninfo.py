"""What ``/oauth2/v3/tokeninfo`` (and ``/oauth2/v2/tokeninfo``) say of the stand-in's tokens.

v3 answers strings: ``{azp, aud, scope, exp, expires_in, access_type}`` for an access token,
``email`` and ``email_verified`` only when it carries the email scope; an ID token's claims.
v2 (oauth2.v2.json ``Tokeninfo``): ``issued_to, audience, user_id, scope, expires_in`` (an
integer), ``email`` and ``verified_email`` (a boolean) only with the email scope.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mock_gcp.backend import GoogleBackend
from mock_gcp.errors import OAuthError
from wiflab_core import jose
from wiflab_core.decisions import Decision, Trace

SERVICE = "issuer"
EMAIL_SCOPES = frozenset({"https://www.googleapis.com/auth/userinfo.email", "email"})
INVALID_TOKEN = OAuthError(400, "invalid_token", "Invalid Value")


@dataclass(frozen=True)
class TokenInfo:
    """The decision; the token's info when it is one of ours, Google's error otherwise."""

    decision: Decision
    info: dict[str, Any] | None = None
    error: OAuthError | None = None


def decide(
    backend: GoogleBackend, access_token: str | None, id_token: str | None, version: int = 3
) -> TokenInfo:
    """What ``/oauth2/v3/tokeninfo`` (or v2) says of one of our tokens."""
    trace = Trace()
    try:
        info = _tokeninfo(trace, backend, access_token, id_token)
        if version == 2:
            info = _v2(info, backend.now())
    except OAuthError as error:
        return TokenInfo(trace.decision(SERVICE, "tokeninfo", error.refusal()), None, error)
    return TokenInfo(trace.decision(SERVICE, "tokeninfo"), info)


def tokeninfo(
    backend: GoogleBackend, access_token: str | None, id_token: str | None, version: int = 3
) -> dict:
    """``decide``'s info, or raises its OAuthError."""
    result = decide(backend, access_token, id_token, version)
    if result.error is not None:
        raise result.error
    assert result.info is not None
    return result.info


def _tokeninfo(
    trace: Trace, backend: GoogleBackend, access_token: str | None, id_token: str | None
) -> dict[str, str]:
    now = backend.now()
    if access_token:
        issued = backend.tokens.find(access_token)
        # Federated tokens are not OAuth access tokens: tokeninfo does not know them.
        kind = issued.kind if issued else None
        if not trace.check("access_token", kind == "access", "a live access token", kind):
            raise INVALID_TOKEN
        assert issued is not None
        revoked = backend.tokens.revoked(issued)
        if not trace.check("access_token.revoked", revoked is None, None, revoked):
            raise INVALID_TOKEN
        found = backend.projects.account_and_project(issued.caller.name)
        if found is not None:  # the account's project, for the journal's ?project=
            trace.check("project", True, None, found[0].project_number)
        account = found[1] if found is not None else None
        unique_id = account.unique_id if account else issued.caller.name
        info = {
            "azp": unique_id,
            "aud": unique_id,
            "scope": " ".join(issued.scopes),
            "exp": str(int(issued.expires_at)),
            "expires_in": str(issued.expires_in(now)),
            "access_type": "online",
        }
        if EMAIL_SCOPES.intersection(issued.scopes):
            info.update(email=issued.caller.name, email_verified="true")
        return info
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


def _v2(info: dict[str, str], now: float) -> dict[str, Any]:
    """v3's info in oauth2.v2.json's ``Tokeninfo`` shape."""
    v2: dict[str, Any] = {
        "issued_to": info.get("azp", info.get("aud", "")),
        "audience": info.get("aud", ""),
        "user_id": info.get("sub", info.get("azp", "")),
    }
    if "scope" in info:
        v2["scope"] = info["scope"]
    if "expires_in" in info:
        v2["expires_in"] = int(info["expires_in"])
    elif "exp" in info:
        v2["expires_in"] = max(0, int(info["exp"]) - int(now))  # an ID token
    if "email" in info:
        v2["email"] = info["email"]
        v2["verified_email"] = info.get("email_verified") == "true"
    return v2


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)
