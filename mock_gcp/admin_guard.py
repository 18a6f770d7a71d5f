"""Who may use the lab's own ``/wiflab/v1`` API (the journal, the topology): one guard.

Loopback callers pass. Beyond loopback a caller must send ``Authorization: Bearer SECRET``
with the stack's admin secret (``WIFLAB_ADMIN_SECRET``): without one set the API is
loopback only (403); with one set, a missing or wrong secret is a 401. The journal holds no
credential but tells who did what; the topology decides who gets tokens: the same rule.
"""

from __future__ import annotations

import ipaddress
from hmac import compare_digest

from mock_gcp.errors import ApiError

LOOPBACK_ONLY = (
    "The lab's /wiflab/v1 API answers loopback callers only "
    "(set WIFLAB_ADMIN_SECRET to allow others with Authorization: Bearer <secret>)."
)
SEND_THE_SECRET = (
    "Authorization: send 'Bearer <WIFLAB_ADMIN_SECRET>' to use the lab's /wiflab/v1 API "
    "beyond loopback."
)


def is_loopback_address(address: str | None) -> bool:
    """A loopback peer: 127.0.0.0/8, ::1, an IPv4-mapped loopback, with or without a zone."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def require_admin(remote: str | None, authorization: str | None, secret: str | None) -> None:
    """Loopback callers pass; others must send ``Bearer <secret>`` (none set: refused)."""
    if is_loopback_address(remote):
        return
    if not secret:
        raise ApiError(403, "PERMISSION_DENIED", LOOPBACK_ONLY)
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not compare_digest(
        presented.strip().encode("utf-8", "surrogatepass"), secret.encode("utf-8")
    ):
        raise ApiError(401, "UNAUTHENTICATED", SEND_THE_SECRET)
