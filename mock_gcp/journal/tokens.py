"""Tokens as the journal shows them: decoded JWT header and claims, a preview, a link key.

Nothing here verifies a signature: the service's own checks did that (or refused). The
journal keeps only what cannot be used as a credential: the header, the claims, and a
shortened preview; chains are linked by a hash of each token, never by the token.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from wiflab_core.redact import redact, shorten

# Whole tokens are hashed to link chains: 128 bits tell tokens apart, and cannot be reversed.
LINK_BYTES = 16
# A JWT's header or claims longer than this (base64url characters) are not decoded: one
# entry stays small however large the token someone sent (STS takes bodies of megabytes).
MAX_SEGMENT = 32 * 1024


def link_key(token: str) -> str:
    """The key a chain knows a token by (a hash: the token is never stored)."""
    return hashlib.sha256(token.strip().encode("utf-8", "surrogatepass")).hexdigest()[
        : 2 * LINK_BYTES
    ]


def preview(token: str) -> str:
    return shorten(token.strip())


def _reject(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _segment(text: str) -> Any:
    if len(text) > MAX_SEGMENT:
        raise ValueError("too long to show")
    padded = text + "=" * (-len(text) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")), parse_constant=_reject)


def decoded(token: str) -> dict[str, Any] | None:
    """``{"header", "claims", "preview"}`` of a JWT, or None when it is not one (an opaque
    ``ya29.`` token, garbage). Values are redacted: a claim holding a token is shortened."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[0].startswith("eyJ"):
        return None
    try:
        header, claims = _segment(parts[0]), _segment(parts[1])
    except (ValueError, UnicodeError, RecursionError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return {"header": redact(header), "claims": redact(claims), "preview": preview(token)}
