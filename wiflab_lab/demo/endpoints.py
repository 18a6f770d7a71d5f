"""Where the demo sends each request: the stack's ``endpoints.json``, read through its model
(``wiflab_core.endpoints``) and reduced to what the demo uses.

One format for both targets: ``wiflab up`` writes it with loopback URLs and
``"target": "local"``; ``deploy/`` with ``"target": "gcp"`` and Google's URLs (no
``metadata``). The demo needs the IdP's ``/token``, STS, IAM Credentials, the services and
the providers' audiences, and shows ``mode`` when present. On gcp the IdP's ``/token`` is
guarded: the demo sends ``Authorization: Bearer $IDP_TOKEN_SECRET`` when that is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wiflab_core import endpoints as endpoints_file

TARGETS = endpoints_file.TARGETS


class EndpointsError(ValueError):
    """An endpoints file the demo cannot use: which field, and why."""

    def __init__(self, field: str | None, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


@dataclass(frozen=True)
class Endpoints:
    target: str
    idp_token_url: str
    sts_token_url: str
    iamcredentials: str
    services: Mapping[str, str]
    providers: Mapping[str, str]  # "POOL/PROVIDER" -> the STS audience
    mode: str | None = None
    # The topology the stack (or deploy/) was set up from.
    topology: Path | None = None
    # The flow explorer's page (a local stack's).
    explorer: str | None = None
    # Local: the journal of Google's side, where each step's decision is read (issue 13).
    journal: str | None = None
    # Local (issue 15): the AWS side's STS, its identities' keys (ARN -> keys) and the
    # ready-made credential configs (name -> path), for the AWS profiles (``aws:NAME``).
    aws_sts_url: str | None = None
    aws_identities: Mapping[str, endpoints_file.AwsKeys] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_model(cls, model: endpoints_file.Endpoints) -> Endpoints:
        if model.idp is None:
            raise EndpointsError("idp", "missing: the demo mints its tokens at the lab IdP")
        return cls(
            target=model.target,
            idp_token_url=model.idp.token_url,
            sts_token_url=model.sts.token_url,
            iamcredentials=model.iamcredentials.api_endpoint.rstrip("/"),
            services={name: service.url for name, service in model.services.items()},
            providers={key: provider.audience for key, provider in model.providers.items()},
            mode=model.mode,
            topology=Path(model.topology),
            explorer=model.explorer.url if model.explorer is not None else None,
            journal=model.journal.url if model.journal is not None else None,
            aws_sts_url=model.aws.sts_url if model.aws is not None else None,
            aws_identities=dict(model.aws.identities) if model.aws is not None else {},
            credentials=dict(model.credentials),
        )


def load_endpoints(path: Path) -> Endpoints:
    """The demo's view of the file; EndpointsError names the field (the caller, the file)."""
    try:
        model = endpoints_file.load(path)
    except endpoints_file.EndpointsError as exc:
        raise EndpointsError(exc.field, exc.message) from None
    return Endpoints.from_model(model)
