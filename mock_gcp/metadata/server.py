"""The metadata server of a Compute Engine VM (or Cloud Run instance) that runs as a topology SA.

What google-auth's compute-engine credentials read: the ping at ``/``, the default service
account's info, access token and identity token. The identity of "the VM" is the topology's
``local.metadataServiceAccount`` (mock-only: on Google Cloud it is the VM's attached SA).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mock_gcp.backend import GoogleBackend
from mock_gcp.iam import Caller
from mock_gcp.topology import ServiceAccount
from wiflab_core.bearer import RequestHeaders
from wiflab_core.decisions import Decision, Refusal, Trace

SERVICE = "metadata"
PREFIX = "/computeMetadata/v1"
DEFAULT_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
TOKEN_LIFETIME = 3599
ZONE = "us-central1-a"
INSTANCE_ID = "1234567890123456789"
INSTANCE_NAME = "wiflab-vm"
INSTANCE_CREATED = 1700000000

MISSING_FLAVOR = "Missing Metadata-Flavor:Google header."
# unverified: the metadata server's answer when the VM's account is disabled was not captured.
ACCOUNT_DISABLED = "The service account {email} is disabled."


@dataclass
class MetadataError(Exception):
    """The metadata server answers errors as text or HTML, not JSON."""

    status: int
    text: str

    def refusal(self) -> Refusal:
        return Refusal(self.status, "Forbidden" if self.status == 403 else "Not Found", self.text)


def decide_request(path: str, headers: RequestHeaders) -> Decision:
    """Whether the metadata server answers a request at all: ``Metadata-Flavor: Google``, and
    nothing that looks proxied (so a request forwarded from outside the VM gets no tokens)."""
    trace = Trace()
    if path == "/" or not path.startswith(PREFIX):
        return trace.decision(SERVICE, "request")
    flavor = headers.get("Metadata-Flavor")
    proxied = "X-Forwarded-For" in headers
    if not trace.check("Metadata-Flavor", flavor == "Google", "Google", flavor) or not trace.check(
        "X-Forwarded-For", not proxied, None, "present" if proxied else None
    ):
        return trace.decision(
            SERVICE, "request", MetadataError(403, forbidden_page(path)).refusal()
        )
    return trace.decision(SERVICE, "request")


def forbidden_page(path: str) -> str:
    return (
        "Your client does not have permission to get URL "
        f"<code>{path}</code> from this server. {MISSING_FLAVOR}"
    )


class MetadataServer:
    def __init__(self, backend: GoogleBackend):
        self._backend = backend

    def account(self, alias: str) -> ServiceAccount:
        """The VM's service account, by ``default`` or by its email."""
        topology = self._backend.topology
        email = topology.local.metadata_service_account
        account = topology.service_account(email) if email else None
        if account is None:
            raise MetadataError(
                404, "The VM has no service account (local.metadataServiceAccount)."
            )
        if alias not in ("default", account.email):
            raise MetadataError(404, f"service account {alias} not found on this instance")
        return account

    def info(self, alias: str) -> dict[str, Any]:
        account = self.account(alias)
        return {"aliases": ["default"], "email": account.email, "scopes": list(DEFAULT_SCOPES)}

    def usable_account(self, alias: str) -> ServiceAccount:
        """``account``, refused when disabled: a disabled account gets no tokens."""
        account = self.account(alias)
        if account.disabled:
            raise MetadataError(403, ACCOUNT_DISABLED.format(email=account.email))
        return account

    def access_token(self, alias: str, scopes: str | None) -> dict[str, Any]:
        account = self.usable_account(alias)
        requested = tuple(s for s in (scopes or "").replace(",", " ").split() if s)
        issued = self._backend.tokens.issue(
            "access",
            Caller(kind="serviceAccount", name=account.email),
            TOKEN_LIFETIME,
            scopes=requested or DEFAULT_SCOPES,
        )
        return {
            "access_token": issued.token,
            "expires_in": issued.expires_in(self._backend.now()),
            "token_type": "Bearer",
        }

    def identity(self, alias: str, audience: str | None, fmt: str | None) -> str:
        account = self.usable_account(alias)
        if not audience:
            raise MetadataError(400, "non-empty audience parameter required")
        extra = None
        if fmt == "full":
            topology = self._backend.topology
            extra = {
                "google": {
                    "compute_engine": {
                        "instance_creation_timestamp": INSTANCE_CREATED,
                        "instance_id": INSTANCE_ID,
                        "instance_name": INSTANCE_NAME,
                        "project_id": topology.project_id,
                        "project_number": int(topology.project_number),
                        "zone": ZONE,
                    }
                }
            }
        # The metadata server always includes the email (the VM knows its own account).
        return self._backend.issuer.id_token(account, audience, include_email=True, extra=extra)

    def project_values(self) -> dict[str, str]:
        topology = self._backend.topology
        return {
            "project-id": topology.project_id,
            "numeric-project-id": topology.project_number,
        }
