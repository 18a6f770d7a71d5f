"""Who may use the lab's own ``/wiflab/v1`` API (the journal, the topology): one guard.

Loopback callers pass. Beyond loopback a caller must send ``Authorization: Bearer SECRET``
with the stack's admin secret (``WIFLAB_ADMIN_SECRET``): without one set the API is
loopback only (403); with one set, a missing or wrong secret is a 401. The journal holds no
credential but tells who did what; the topology decides who gets tokens: the same rule.
"""

from __future__ import annotations

import hashlib
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


def project_secret_digest(secret: str) -> str:
    """What the state dir keeps of a project's secret: its SHA-256 (hex), never the secret."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def project_secret_refused(number: str) -> ApiError:
    return ApiError(
        403,
        "PERMISSION_DENIED",
        f"Project {number} belongs to the caller that created it: send its project secret "
        "(Authorization: Bearer <X-Wiflab-Project-Secret from the first PUT>) or the admin "
        "secret.",
    )


def require_project(
    number: str,
    remote: str | None,
    authorization: str | None,
    admin_secret: str | None,
    project_secret_sha256: str | None,
) -> None:
    """Who may read, put or delete project ``number`` (``/wiflab/v1/projects/NUMBER``).

    A project created at run time has a secret: its creator's (or the admin secret) is then
    needed from every caller, loopback ones too, since CI jobs on one machine share loopback.
    A project without one (loaded at start-up, or not loaded yet) is guarded as the rest of
    the API (``require_admin``).
    """
    scheme, _, presented = (authorization or "").partition(" ")
    presented = presented.strip() if scheme.lower() == "bearer" else ""
    if admin_secret and presented and _same(presented, admin_secret):
        return
    if project_secret_sha256 is None:
        require_admin(remote, authorization, admin_secret)
        return
    if presented and compare_digest(project_secret_digest(presented), project_secret_sha256):
        return
    raise project_secret_refused(number)


def _same(presented: str, secret: str) -> bool:
    return compare_digest(presented.encode("utf-8", "surrogatepass"), secret.encode("utf-8"))
