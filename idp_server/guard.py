"""Bearer-secret checks for /token and /admin: constant-time, and never echoing a secret."""

from __future__ import annotations

from hmac import compare_digest

from idp_server.errors import IdpError


def require_bearer(authorization: str | None, secret: str, purpose: str, setting: str) -> None:
    """Refuse (401) unless the Authorization header is ``Bearer <secret>``."""
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise _unauthorized(f"Authorization: send 'Bearer <{setting}>' to {purpose}")
    if not compare_digest(presented.strip().encode("utf-8"), secret.encode("utf-8")):
        raise _unauthorized(f"Authorization: the bearer secret does not match {setting}")


def _unauthorized(description: str) -> IdpError:
    return IdpError(401, "unauthorized", description, {"WWW-Authenticate": "Bearer"})
