"""``endpoints.json``: where each part of a running chain answers, the one file clients, tests,
the benchmarks and the demo read.

Two writers, one model: the local stack (``wiflab up``, ``deploy google-side``) writes
``"target": "local"`` with loopback URLs; ``deploy/`` writes ``"target": "gcp"`` with Google's
URLs and the Cloud Run services' own. The JSON keys are the ones clients have always read
(``sts.token_url``, ``iamcredentials.api_endpoint``, ``google_issuer.tokeninfo``, ...), so a
standalone client may read the file with plain ``json``; everything in this repository reads
it through :func:`load`. A file without ``version`` predates it and is version 1.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from wiflab_core.private_file import write_private

FILE_NAME = "endpoints.json"
VERSION = 1
TARGETS = ("local", "gcp")


class EndpointsError(ValueError):
    """An endpoints file that cannot be used: which file, which field, and why."""

    def __init__(self, path: Path | None, field: str | None, message: str):
        where = ": ".join(str(part) for part in (path, field) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.field = field
        self.message = message


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"must be an http(s) URL, not {value!r}")
    return value


Url = Annotated[str, AfterValidator(_http_url)]


class _Section(BaseModel):
    # Unknown keys are refused: a misspelt key would otherwise read as a missing one.
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Project(_Section):
    id: str
    number: str


class Idp(_Section):
    issuer: Url
    token_url: Url
    # The IdP's profile route, with ``{profile}`` to fill in.
    profile_url: str
    # Local: the file holding the IdP's admin secret (key rotation).
    admin_secret_file: str | None = None
    # gcp: where the /token secret is kept (clients read the value from IDP_TOKEN_SECRET).
    token_secret: str | None = None


class Sts(_Section):
    token_url: Url


class IamCredentials(_Section):
    api_endpoint: Url
    # Local: IAM Credentials over gRPC, plaintext h2c on loopback ("127.0.0.1:PORT", as gRPC
    # targets are written); absent when the target serves it only at Google's own host.
    grpc_target: str | None = None


class GoogleIssuer(_Section):
    """Who signs Google ID tokens, and where its keys and tokeninfo are."""

    issuer: Url
    certs_v1: Url
    certs_v3: Url
    tokeninfo: Url


class Metadata(_Section):
    # host:port, as GCE_METADATA_HOST takes it (no scheme).
    host: str
    # The account it acts as, when not the topology's local.metadataServiceAccount.
    service_account: str | None = None


class ServiceEndpoint(_Section):
    url: Url


class JournalEndpoint(_Section):
    """Local: Google's side's journal of decisions (``GET URL[?since=ID][&chain=ID]``,
    ``URL/stream``, ``DELETE URL``), issue 13."""

    url: Url


class ExplorerEndpoint(_Section):
    """Local: the browser flow explorer's page (a part of its own, on loopback)."""

    url: Url


class ProviderEndpoint(_Section):
    # The provider's resource name, as STS expects it: //iam.googleapis.com/projects/...
    audience: str


class SubjectToken(_Section):
    """gcp: a subject-token file ``wiflab deploy tokens`` mints, and from what."""

    file: str
    profile: str
    audience: str


class AwsKeys(_Section):
    """A local AWS identity's keys, named as AWS's own credential files name them."""

    access_key_id: str = Field(alias="accessKeyId")
    secret_access_key: str = Field(alias="secretAccessKey", repr=False)
    session_token: str | None = Field(default=None, alias="sessionToken", repr=False)


class Aws(_Section):
    """Local (issue 15): the AWS side, its STS and instance metadata service, and the keys of
    its identities (this file is 0600, as the credentials file beside it)."""

    sts_url: Url
    imds_url: Url | None = None
    # The same keys as a file of their own (state/aws/credentials.json, 0600).
    credentials_file: str | None = None
    # ARN -> its keys.
    identities: dict[str, AwsKeys] = Field(default_factory=dict)


class Intercept(_Section):
    """Intercept mode (``wiflab up --intercept``): the loopback proxy that serves Google's hosts,
    the local CA it signs them with, and the variables that make a client use both (what
    ``wiflab env`` prints)."""

    proxy_url: Url
    # The local CA's certificate (PEM), alone; env's bundles hold it and the system roots.
    ca_file: str
    env: dict[str, str]


class Endpoints(_Section):
    version: Literal[1] = 1
    target: Literal["local", "gcp"]
    # Local: how the stack runs (threads or processes).
    mode: Literal["threads", "processes"] | None = None
    project: Project
    # gcp: the Cloud Run region.
    region: str | None = None
    # The topology the chain was set up from (a path; relative ones to the file's directory).
    topology: str
    # None when the chain has no IdP of the lab's (a gcp target whose providers trust others).
    idp: Idp | None = None
    sts: Sts
    iamcredentials: IamCredentials
    google_issuer: GoogleIssuer
    # Local only: the metadata server.
    metadata: Metadata | None = None
    services: dict[str, ServiceEndpoint]
    # "POOL/PROVIDER" -> its audience.
    providers: dict[str, ProviderEndpoint]
    # The JSON key is Google's spelling; Python code says service_accounts.
    service_accounts: tuple[str, ...] = Field(
        validation_alias="serviceAccounts", serialization_alias="serviceAccounts"
    )
    # Ready-made external-account configs: name -> path.
    credentials: dict[str, str]
    subject_tokens: tuple[SubjectToken, ...] | None = None
    # Local, intercept mode only: the other sections then hold Google's own URLs.
    intercept: Intercept | None = None
    # Local (issue 13): the journal of every decision, and the flow explorer.
    journal: JournalEndpoint | None = None
    explorer: ExplorerEndpoint | None = None
    # Local (issue 15): the AWS side, when the topology has local.aws identities.
    aws: Aws | None = None

    # -- reading ----------------------------------------------------------------------------

    @classmethod
    def from_json(cls, doc: Any, path: Path | None = None) -> Endpoints:
        """The model of a parsed document; EndpointsError names the (first) bad field."""
        if not isinstance(doc, Mapping):
            raise EndpointsError(path, None, "must be a JSON object")
        version = doc.get("version", VERSION)
        if version != VERSION:
            raise EndpointsError(
                path, "version", f"this wiflab reads version {VERSION}, not {version!r}"
            )
        try:
            return cls.model_validate(doc)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            field, message = _describe(errors[0])
            more = len(errors) - 1
            if more:
                message += f" (and {more} more: " + "; ".join(
                    ": ".join(_describe(e)) for e in errors[1:]
                )
                message += ")"
            raise EndpointsError(path, field, message) from None

    def to_json(self) -> dict[str, Any]:
        """The document as written: JSON keys, absent sections left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def write(self, path: Path) -> Path:
        """Owner-only: configs it names hold tokens, and its IdP section the admin secret's file."""
        write_private(path, json.dumps(self.to_json(), indent=2) + "\n")
        return path

    # -- what readers ask ---------------------------------------------------------------------

    def require_idp(self) -> Idp:
        if self.idp is None:
            raise EndpointsError(None, "idp", f"missing: the {self.target} target has no lab IdP")
        return self.idp

    def require_metadata(self) -> Metadata:
        if self.metadata is None:
            raise EndpointsError(
                None, "metadata", f"missing: the {self.target} target has no metadata server"
            )
        return self.metadata

    def require_intercept(self) -> Intercept:
        if self.intercept is None:
            raise EndpointsError(
                None, "intercept", "missing: the stack was not started with --intercept"
            )
        return self.intercept

    def service_url(self, name: str) -> str:
        service = self.services.get(name)
        if service is None:
            known = ", ".join(self.services) or "none"
            raise KeyError(f"no Cloud Run service {name!r} (services: {known})")
        return service.url

    def audience(self, provider: str) -> str:
        entry = self.providers.get(provider)
        if entry is None:
            known = ", ".join(self.providers) or "none"
            raise KeyError(f"no provider {provider!r} (providers: {known})")
        return entry.audience

    def topology_path(self, base: Path) -> Path:
        """The topology file, a relative path taken from ``base`` (the file's directory)."""
        return base / self.topology


def load(path: Path | str) -> Endpoints:
    """Read and check an endpoints file; EndpointsError names the file and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EndpointsError(path, None, exc.strerror or "cannot be read") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise EndpointsError(path, None, f"not JSON ({exc})") from None
    return Endpoints.from_json(doc, path)


def _describe(error: Mapping[str, Any]) -> tuple[str, str]:
    field = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "missing":
        return field, "missing"
    if kind == "extra_forbidden":
        return field, "unknown key"
    if kind == "value_error":
        return field, str(error["ctx"]["error"])
    return field, f"{error['msg'][0].lower()}{error['msg'][1:]}, not {error['input']!r}"
