"""Bearer credentials in request headers, as Cloud Run's front end reads them.

Shared by the front end (which checks the token) and the protected app (which shows it):
both must agree on which header carries the caller's identity.
"""

from __future__ import annotations

from typing import Protocol


class RequestHeaders(Protocol):
    """Request headers as the rules read them: werkzeug's case-insensitive ``Headers`` in the
    services, a plain dict in tests."""

    def get(self, key: str, /) -> str | None: ...

    def __getitem__(self, key: str, /) -> str: ...

    def __contains__(self, key: str, /) -> bool: ...


# X-Serverless-Authorization wins when present; Authorization then belongs to the app.
CREDENTIAL_HEADERS = ("X-Serverless-Authorization", "Authorization")


def credential_header(headers: RequestHeaders) -> str | None:
    """The header that carries the caller's credential, or None."""
    for name in CREDENTIAL_HEADERS:
        if headers.get(name):
            return name
    return None


def bearer_token(value: str | None) -> str | None:
    """The token of ``Bearer TOKEN`` (scheme case-insensitive), else None."""
    scheme, _, token = (value or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
