"""Which of Google's hosts intercept mode serves, and which part of the stack answers each.

Google's side serves every Google API path from one app (their paths do not overlap), so the
googleapis.com hosts, accounts.google.com and the metadata server all go to it; IAM Credentials
over gRPC (ALPN ``h2``) goes to the gRPC server when the stack has one; each Cloud Run service
has its own host, ``SERVICE-PROJECTHASH-REGIONCODE.a.run.app``, going to its front end. Any
host not named here is tunnelled untouched.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

STS = "sts.googleapis.com"
IAMCREDENTIALS = "iamcredentials.googleapis.com"
OAUTH2 = "oauth2.googleapis.com"
WWW = "www.googleapis.com"
ACCOUNTS = "accounts.google.com"
RESOURCE_MANAGER = "cloudresourcemanager.googleapis.com"
METADATA_HOSTS = ("metadata.google.internal", "169.254.169.254")
# Served over TLS (CONNECT) by Google's side.
GOOGLE_TLS_HOSTS = (STS, IAMCREDENTIALS, OAUTH2, WWW, ACCOUNTS, RESOURCE_MANAGER)

# AWS (issue 15): STS's global and regional hosts go to the local AWS STS; plain-HTTP requests
# to the instance metadata address with IMDS's paths (/latest/..., /YYYY-MM-DD/...) go to the
# local IMDS, the rest of 169.254.169.254 (/computeMetadata/...) to Google's metadata server.
# The regions: botocore's for STS in the aws partition (tests/aws_side keeps them in step).
AWS_STS_REGIONS = (
    "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2",
    "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
    "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1",
    "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1",
    "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1",
    "us-west-2",
)  # fmt: skip
AWS_STS_GLOBAL = "sts.amazonaws.com"
AWS_STS_HOSTS = (AWS_STS_GLOBAL, *(f"sts.{region}.amazonaws.com" for region in AWS_STS_REGIONS))
AWS_IMDS_HOST = "169.254.169.254"
AWS_IMDS_URL = f"http://{AWS_IMDS_HOST}"
_AWS_IMDS_PATH = re.compile(r"/(latest|\d{4}-\d\d-\d\d)(/|$)")

# Real CI issuers served by the lab IdP's presets (idp_server.presets_http maps the path by
# Host): GitHub Actions' and GitLab.com's.
PRESET_HOSTS = ("token.actions.githubusercontent.com", "gitlab.com")

# Google's URLs, as clients know them.
GOOGLE_ISSUER = "https://accounts.google.com"
STS_TOKEN_URL = f"https://{STS}/v1/token"
IAMCREDENTIALS_URL = f"https://{IAMCREDENTIALS}"
CERTS_V1 = f"https://{WWW}/oauth2/v1/certs"
CERTS_V3 = f"https://{WWW}/oauth2/v3/certs"
TOKENINFO = f"https://{OAUTH2}/tokeninfo"

# Cloud Run's short region codes in run.app hosts (the ones seen in Google's docs).
REGION_CODES = {
    "us-central1": "uc",
    "us-east1": "ue",
    "us-east4": "uk",
    "us-west1": "uw",
    "europe-west1": "ew",
    "europe-west4": "ez",
    "asia-northeast1": "an",
}
DEFAULT_REGION = "us-central1"


def project_hash(project_number: str) -> str:
    """Ten lowercase letters and digits standing for the project in run.app hosts.
    # unverified: Google's hash is its own; this one is stable per project, and of its shape."""
    digest = hashlib.sha256(f"wiflab-run:{project_number}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:10]


def run_app_url(service: str, project_number: str, region: str = DEFAULT_REGION) -> str:
    """A Cloud Run service's deterministic URL: ``https://SERVICE-PROJECTHASH-REGIONCODE.a.run.app``."""
    code = REGION_CODES.get(region, "uc")  # unverified for regions not in REGION_CODES
    return f"https://{service}-{project_hash(project_number)}-{code}.a.run.app"


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int

    @classmethod
    def of(cls, target: str) -> Upstream:
        """From ``http://host:port`` or ``host:port``."""
        parts = urlsplit(target if "//" in target else f"//{target}")
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"not host:port: {target!r}")
        return cls(parts.hostname, parts.port)


@dataclass(frozen=True)
class Routes:
    """Host -> the part that answers it (plain HTTP, loopback)."""

    google: Upstream
    # IAM Credentials over gRPC (h2c), when the stack serves it.
    grpc: Upstream | None = None
    # run.app host -> its front end.
    services: Mapping[str, Upstream] = field(default_factory=dict)
    # The local AWS side (issue 15), when the stack runs one.
    aws_sts: Upstream | None = None
    aws_imds: Upstream | None = None
    # The lab IdP, which answers the real CI issuers' hosts (PRESET_HOSTS), when given.
    idp: Upstream | None = None

    @classmethod
    def build(
        cls,
        google_url: str,
        services: Mapping[str, str],
        grpc_target: str | None = None,
        idp_url: str | None = None,
        *,
        aws_sts_url: str | None = None,
        aws_imds_url: str | None = None,
    ) -> Routes:
        """``services``: the run.app URL -> its front end's URL."""
        return cls(
            Upstream.of(google_url),
            Upstream.of(grpc_target) if grpc_target else None,
            {urlsplit(url).hostname or url: Upstream.of(front) for url, front in services.items()},
            Upstream.of(aws_sts_url) if aws_sts_url else None,
            Upstream.of(aws_imds_url) if aws_imds_url else None,
            Upstream.of(idp_url) if idp_url else None,
        )

    def tls_host(self, host: str) -> bool:
        """Whether CONNECT to ``host`` is terminated here (else tunnelled untouched)."""
        host = host.lower().rstrip(".")
        if host in AWS_STS_HOSTS:
            return self.aws_sts is not None
        if host in PRESET_HOSTS:
            return self.idp is not None
        return host in GOOGLE_TLS_HOSTS or host in self.services

    def plain(self, host: str, port: int, path: str) -> Upstream | None:
        """The part for an absolute-form plain-HTTP request (``GET http://HOST/PATH``); None:
        the origin itself. 169.254.169.254 is both clouds' metadata address: IMDS's paths go
        to the local IMDS, the others to Google's metadata server."""
        host = host.lower().rstrip(".")
        if port != 80:
            return None
        if host == AWS_IMDS_HOST and self.aws_imds is not None and _AWS_IMDS_PATH.match(path):
            return self.aws_imds
        return self.google if host in METADATA_HOSTS else None

    def alpn(self, host: str) -> tuple[str, ...]:
        """What the TLS server offers. http/1.1 first: OpenSSL picks the first of the server's
        protocols the client offers, so a client that speaks both (Go's net/http, REST) gets
        HTTP/1.1 and only an h2-only client (gRPC: grpc-core offers grpc-exp and h2, grpc-js
        h2) gets h2, which goes to the gRPC server."""
        if host.lower().rstrip(".") == IAMCREDENTIALS and self.grpc is not None:
            return ("http/1.1", "h2")
        return ("http/1.1",)

    def upstream(self, host: str, alpn: str | None = None) -> Upstream | None:
        """The part for a terminated connection (or a plain-HTTP request) to ``host``."""
        host = host.lower().rstrip(".")
        if host == IAMCREDENTIALS and alpn == "h2":
            return self.grpc
        if host in AWS_STS_HOSTS:
            return self.aws_sts
        if host in GOOGLE_TLS_HOSTS or host in METADATA_HOSTS:
            return self.google
        if host in PRESET_HOSTS:
            return self.idp
        return self.services.get(host)
