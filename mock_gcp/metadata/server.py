"""The metadata server of a Compute Engine VM (or Cloud Run instance) that runs as a topology SA.

What clients read: the ping at ``/``, the directories and values of ``tree.py`` (listings,
recursive JSON, the instance's zone and id, the project, the account's email and scopes), and
the methods here: the account's access token and identity token. The identity of "the VM" is
the topology's ``local.metadataServiceAccount`` (mock-only: on Google Cloud it is the VM's
attached SA).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from mock_gcp.backend import GoogleBackend
from mock_gcp.iam import Caller
from mock_gcp.metadata import tree
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


def not_found_page(path: str, note: str | None = None) -> str:
    """The metadata server's 404: Google's error page (as captured in kubernetes-the-hard-way
    #454/#664 and ansible google.cloud #568), not a Google API's JSON error. ``note``: the
    lab's reason, as an HTML comment (invisible on the page, shown in clients' error texts)."""
    page = _NOT_FOUND_PAGE.format(path=html.escape(path))
    if note:
        page += f"<!-- wiflab: {html.escape(note).replace('--', '- -')} -->\n"
    return page


_NOT_FOUND_PAGE = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
    '  <meta name=viewport content="initial-scale=1, minimum-scale=1, width=device-width">\n'
    "  <title>Error 404 (Not Found)!!1</title>\n"
    "  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>\n"
    "  <p><b>404.</b> <ins>That\u2019s an error.</ins>\n"
    "  <p>The requested URL <code>{path}</code> was not found on this server."
    "  <ins>That\u2019s all we know.</ins>\n"
)


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

    def directory(self) -> tree.Directory:
        """Everything below ``/computeMetadata/v1/``, with the values ``format=full`` ID tokens
        carry (zone, instance id and name, project id and number)."""
        topology = self._backend.topology
        return tree.build(
            project_id=topology.project_id,
            project_number=topology.project_number,
            zone=ZONE,
            instance_id=INSTANCE_ID,
            instance_name=INSTANCE_NAME,
            email=topology.local.metadata_service_account,
            scopes=DEFAULT_SCOPES,
        )
