"""The local stack's parts, each described once: its name, its port offset, its settings, the
factory that builds its app from them, and how gunicorn serves it.

Two launchers start a part (``wiflab_lab.launchers``): in a thread, the factory gets the
settings object; under gunicorn, the child gets ``settings.to_env()`` and builds the same
settings back with ``from_env``. Ports: the IdP +0, Google's side +1, its gRPC listener (IAM
Credentials over gRPC, in the Google side's process) +2, the flow explorer +3 (loopback only),
then per topology service its Cloud Run front end +10+2i and its app +11+2i.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, Self

from aws_side.identities import FILE_NAME as AWS_CREDENTIALS_FILE
from aws_side.identities import Identities, IdentitySpec, make_identities
from aws_side.settings import AwsSettings
from idp_server.settings import IdpSettings
from mock_gcp.backend import GoogleBackend
from mock_gcp.iamcredentials.grpc import grpc_address, reserve_port
from mock_gcp.journal.settings import JournalSettings
from mock_gcp.key_source import KEY_FILE_NAME, KeySource
from mock_gcp.run.settings import FrontEndSettings
from mock_gcp.settings import GoogleSettings
from mock_gcp.topology import IDP_APP, Topology
from mock_gcp.topology_state import PROJECTS_DIR_NAME, STATE_FILE_NAME
from protected_app.settings import Settings as ProtectedSettings
from protected_app.settings import VerifyMode
from wiflab_core.serving import LOOPBACK, bind_socket, url_of
from wiflab_lab.intercept import routes as intercept

IDP_OFFSET = 0
GOOGLE_OFFSET = 1
GRPC_OFFSET = 2
EXPLORER_OFFSET = 3
# The local AWS side (issue 15, aws_side): its STS and its instance metadata service.
AWS_STS_OFFSET = 8
AWS_IMDS_OFFSET = 9
SERVICES_OFFSET = 10


class AppSettings(Protocol):
    """An app's settings: written to its variables, and read back from them in the child."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str], /) -> Self: ...

    def to_env(self) -> dict[str, str]: ...


# Threads per gunicorn worker (gthread). A client that sends its headers slowly holds a thread
# until they are complete, so a worker holds about this many slow clients and still answers
# the others (issue 12: 50 slowloris connections per part). An idle thread costs memory only.
# gthread rather than gevent here: the Google side and the front ends make outbound HTTP calls
# (JWKS, upstream apps) that gevent would have to patch; the IdP's own serve path, whose one
# hot route makes none, runs gevent (idp_server/gunicorn_app.py).
SLOW_CLIENT_THREADS = 64


@dataclass(frozen=True)
class ServerOptions:
    """How gunicorn serves a part: worker processes, and threads per worker (gthread)."""

    workers: int = 1
    threads: int = SLOW_CLIENT_THREADS

    def gunicorn_args(self) -> list[str]:
        return ["--worker-class", "gthread", "--threads", str(self.threads)]


@dataclass(frozen=True)
class Part:
    name: str
    port_offset: int
    url: str
    settings: AppSettings
    # "module:function": function(settings, **shared) -> the WSGI app.
    factory: str
    server: ServerOptions = ServerOptions()
    # Threads mode only: objects the parts of this process share (Google's backend: a topology
    # applied at run time reaches every front end at once, and keys need no HTTP fetch).
    shared: Mapping[str, Any] = field(default_factory=dict)
    # The Google side only: IAM Credentials over gRPC ("127.0.0.1:PORT") in the part's own
    # process, on the same backend (a thread beside it; under gunicorn, in its worker).
    grpc_address: str | None = None

    @property
    def settings_type(self) -> str:
        kind = type(self.settings)
        return f"{kind.__module__}:{kind.__qualname__}"


@dataclass(frozen=True)
class Layout:
    """What the stack needs to know to describe its parts."""

    topology: Topology
    topology_path: Path
    state_dir: Path
    in_process: bool
    admin_secret: str = field(repr=False)
    token_secret: str | None = field(default=None, repr=False)
    google_issuer: str | None = None
    # Parts that run elsewhere: the IdP, and the app behind each named service.
    idp_url: str | None = None
    app_urls: Mapping[str, str] = field(default_factory=dict)
    app_secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Intercept mode: services answer at run.app URLs, Google's ID tokens carry Google's iss.
    intercept: bool = False
    # More projects the Google side serves (mock_gcp.projects), with their files.
    more_topologies: tuple[tuple[Topology, Path], ...] = ()
    # The flow explorer (on loopback): off where no browser can reach loopback (a container).
    explorer: bool = True
    # How many journal entries the stack keeps (WIFLAB_JOURNAL_SIZE); 0 switches it off.
    journal_size: int = 1000
    # Gunicorn workers of Google's side (processes mode); None = the number of cores.
    google_workers: int | None = None
    # GitHub's ACTIONS_ID_TOKEN_REQUEST_TOKEN for the lab IdP (idp_server.ci_endpoints).
    ci_request_token: str | None = field(default=None, repr=False)


def journal_settings(layout: Layout) -> JournalSettings:
    """One journal for the whole stack. Processes mode: a file in its state dir every part
    (and every worker) records into. Threads mode: every part is in this process and shares
    Google's backend, hence its journal, in memory (no file to lock, no line to encode)."""
    if layout.journal_size == 0:
        return JournalSettings(enabled=False)
    if layout.in_process:
        return JournalSettings(size=layout.journal_size)
    return JournalSettings(file=layout.state_dir / "journal.jsonl", size=layout.journal_size)


class Sockets:
    """The stack's listening sockets, bound before any part is described (settings carry
    URLs, and port 0 is known only once bound)."""

    def __init__(self, host: str, port_base: int):
        self._host = host
        self._base = port_base
        self._bound: dict[int, socket.socket] = {}
        self._reserved: list[socket.socket] = []

    def bind(self, offset: int, host: str | None = None) -> str:
        port = 0 if self._base == 0 else self._base + offset
        self._bound[offset] = sock = bind_socket(host or self._host, port)
        return url_of(sock)

    def take(self, offset: int) -> socket.socket:
        return self._bound.pop(offset)

    def reserve(self, offset: int) -> str:
        """A port held for a gRPC server (``HOST:PORT``): bound with SO_REUSEPORT and not
        listening, so the server, here or in a child, binds it too; ``reservations`` hands
        the holding sockets over, to be closed when the stack stops."""
        port = 0 if self._base == 0 else self._base + offset
        sock = reserve_port(self._host, port)
        self._reserved.append(sock)
        return grpc_address(self._host, sock.getsockname()[1])

    def reservations(self) -> list[socket.socket]:
        taken, self._reserved = self._reserved, []
        return taken

    def close(self) -> None:
        """Close the sockets no server took (start-up failed half way)."""
        for sock in [*self._bound.values(), *self._reserved]:
            sock.close()
        self._bound.clear()
        self._reserved.clear()


@dataclass(frozen=True)
class Described:
    parts: list[Part]
    idp_url: str
    google_url: str
    services: dict[str, str]  # name -> front-end URL
    backend: GoogleBackend | None  # the in-process Google side (threads mode)
    grpc_target: str | None = None  # IAM Credentials over gRPC: HOST:PORT
    # Intercept mode: name -> the service's run.app URL (the audience its front end expects).
    public_services: dict[str, str] = field(default_factory=dict)
    explorer_url: str | None = None
    # The local AWS side, when the topology has local.aws identities.
    aws: AwsSide | None = None


def google_workers(requested: int | None) -> int:
    """Google's side's gunicorn workers: as requested, else one per core."""
    return requested if requested is not None else max(1, os.cpu_count() or 1)


def preset_issuers(idp_url: str, topology: Topology | None = None) -> dict[str, str]:
    """Each real provider's issuer -> the lab IdP's preset path standing in for it locally
    (a template whose whole host is a param, a self-managed cluster's, filled with the
    topology's idp.presets params)."""
    from urllib.parse import urlsplit

    from idp_server.presets import PRESETS

    issuers = {}
    for preset in PRESETS.values():
        real = preset.real_issuer
        if (urlsplit(real).hostname or "").startswith("{"):
            params = topology.idp.presets.get(preset.name, {}) if topology else {}
            real = preset.issuer_for(**params)
        issuers[real] = idp_url.rstrip("/") + preset.issuer_path
    return issuers


def describe(layout: Layout, sockets: Sockets, host: str) -> Described:
    """Every part the stack runs, on the sockets it binds here."""
    from idp_server.keystore import create_state_file, initial_keyset

    topology = layout.topology
    parts: list[Part] = []
    idp_url = layout.idp_url
    if idp_url is None:
        idp_url = sockets.bind(IDP_OFFSET)
        # Every worker signs with the same keys: they live in one state file.
        key_state = create_state_file(initial_keyset(None), layout.state_dir / "idp")
        idp = IdpSettings(
            issuer=idp_url,
            profiles=topology.idp.plain(),
            presets=topology.idp.preset_params(),
            admin_secret=layout.admin_secret,
            token_secret=layout.token_secret,
            bind_host=host,
            key_state=key_state,
        )
        if layout.ci_request_token:
            idp = idp.replace(ci_request_token=layout.ci_request_token)
        parts.append(
            Part(
                "idp",
                IDP_OFFSET,
                idp_url,
                idp,
                "idp_server.app:create_app",
                ServerOptions(workers=2),
            )
        )
    # The local AWS side first: Google's STS executes AWS subject tokens against its STS.
    aws = aws_side(layout, sockets)
    google_url = sockets.bind(GOOGLE_OFFSET)
    grpc_target = sockets.reserve(GRPC_OFFSET)
    issuer = layout.google_issuer or (intercept.GOOGLE_ISSUER if layout.intercept else google_url)
    topology_state = fresh_topology_state(layout.state_dir)
    journal = journal_settings(layout)
    # One key source for every worker of Google's side and every front end: made here, then
    # read by each of them (a new issuer key is known to the front ends at once).
    google_keys = layout.state_dir / "google" / KEY_FILE_NAME
    key_source = KeySource.open(google_keys)
    # The issuers' JWKS, shared by every worker: a key one worker's refetch saw retired is
    # refused by all (wiflab_core.jwks_cache).
    jwks_cache = layout.state_dir / "google" / "jwks"
    google = GoogleSettings(
        layout.topology_path,
        google_issuer=issuer,
        idp_issuer=idp_url,
        preset_issuers=preset_issuers(idp_url, topology),
        topology_state=topology_state,
        journal=journal,
        admin_secret=layout.admin_secret,
        key_file=google_keys,
        more_topologies=tuple(path for _, path in layout.more_topologies),
        aws_sts_url=aws.sts_url if aws is not None else None,
        jwks_cache=jwks_cache,
    )
    backend = (
        GoogleBackend(
            topology,
            google.deviations(),
            journal=journal.open(),
            topology_state=topology_state,
            keys=key_source,
            projects=tuple(t for t, _ in layout.more_topologies),
            jwks_cache=jwks_cache,
        )
        if layout.in_process
        else None
    )
    shared: dict[str, Any] = {"backend": backend} if backend is not None else {}
    parts.append(
        Part(
            "google",
            GOOGLE_OFFSET,
            google_url,
            google,
            "mock_gcp.app:create_app_from_settings",
            # Tokens are sealed and keys shared (mock_gcp.key_source): any worker serves any
            # request.
            ServerOptions(workers=google_workers(layout.google_workers)),
            shared,
            grpc_address=grpc_target,
        )
    )
    services: dict[str, str] = {}
    public: dict[str, str] = {}
    for i, service in enumerate(topology.services):
        front_offset = SERVICES_OFFSET + 2 * i
        front_url = sockets.bind(front_offset)
        if layout.intercept:
            public[service.name] = intercept.run_app_url(service.name, topology.project_number)
        upstream = idp_url if service.app == IDP_APP else layout.app_urls.get(service.name)
        # Shared by the front end and its app: a request straight to the app's port is then
        # never reported verified (protected_app.identity.CloudRunMarker).
        app_secret = layout.app_secrets.get(service.name) or secrets.token_urlsafe(24)
        if upstream is None:
            upstream = sockets.bind(front_offset + 1)
            app = ProtectedSettings(
                verify=VerifyMode.CLOUD_RUN,
                cloud_run=cloud_run_env(service.name),
                front_end_secret=app_secret,
            )
            parts.append(
                Part(
                    f"app:{service.name}",
                    front_offset + 1,
                    upstream,
                    app,
                    "protected_app.app:create_app",
                    ServerOptions(workers=1),
                )
            )
        front = FrontEndSettings(
            layout.topology_path,
            service.name,
            service_url=public.get(service.name, front_url),
            upstream_url=upstream,
            google_certs_url=f"{google_url}/oauth2/v3/certs",
            google_issuer=issuer,
            app_secret=app_secret,
            topology_state=topology_state,
            journal=journal,
            google_keys=google_keys,
            more_topologies=google.more_topologies,
        )
        parts.append(
            Part(
                f"run:{service.name}",
                front_offset,
                front_url,
                front,
                "mock_gcp.run.front_end:create_app_from_settings",
                ServerOptions(workers=1),
                shared,
            )
        )
        services[service.name] = front_url
    explorer = explorer_part(layout, sockets, google_url) if layout.explorer else None
    if explorer is not None:
        parts.append(explorer)
    explorer_url = explorer.url if explorer is not None else None
    if aws is not None:
        parts.extend(aws.parts)
    return Described(
        parts,
        idp_url,
        google_url,
        services,
        backend,
        grpc_target=grpc_target,
        public_services=public,
        explorer_url=explorer_url,
        aws=aws,
    )


@dataclass(frozen=True)
class AwsSide:
    """The local AWS side's two parts (STS, IMDS) and the identities' keys they serve."""

    parts: tuple[Part, Part]
    sts_url: str
    imds_url: str
    identities: Identities
    credentials_file: Path


def aws_side(layout: Layout, sockets: Sockets) -> AwsSide | None:
    """The local AWS STS and IMDS (``aws_side``), on loopback whatever the stack's host (they
    verify and hand out keys): fresh keys for every identity of ``local.aws``, written to
    ``state/aws/credentials.json`` (0600) before either part starts. None without identities."""
    specs = [IdentitySpec(i.arn, i.imds) for i in layout.topology.local.aws.identities]
    if not specs:
        return None
    identities = make_identities(specs, datetime.now(UTC))
    credentials = identities.write(layout.state_dir / "aws" / AWS_CREDENTIALS_FILE)
    settings = AwsSettings(credentials)
    sts_url = sockets.bind(AWS_STS_OFFSET, LOOPBACK)
    imds_url = sockets.bind(AWS_IMDS_OFFSET, LOOPBACK)
    sts = Part("aws-sts", AWS_STS_OFFSET, sts_url, settings, "aws_side.sts_http:create_app")
    imds = Part("aws-imds", AWS_IMDS_OFFSET, imds_url, settings, "aws_side.imds_http:create_app")
    # One worker each (ServerOptions' default): IMDS seals its tokens with its process's key.
    return AwsSide(
        (sts, imds),
        sts_url,
        imds_url,
        identities,
        credentials,
    )


def explorer_part(layout: Layout, sockets: Sockets, google_url: str) -> Part:
    """The flow explorer (``wiflab_lab.explorer``), on loopback whatever the stack's host:
    it mints tokens and changes the topology for whoever reaches it."""
    from wiflab_core.endpoints import FILE_NAME
    from wiflab_lab.explorer.settings import ExplorerSettings

    url = sockets.bind(EXPLORER_OFFSET, LOOPBACK)
    settings = ExplorerSettings(google_url, layout.state_dir / FILE_NAME)
    return Part(
        "explorer",
        EXPLORER_OFFSET,
        url,
        settings,
        "wiflab_lab.explorer.app:create_app",
        ServerOptions(workers=1),
    )


def fresh_topology_state(state_dir: Path) -> Path:
    """Where every Google-side process and front end follows a topology applied at run time
    (``PUT /wiflab/v1/topology``); one left by an earlier run is removed, so the stack starts
    from its topology file (and projects put at run time by an earlier run are gone)."""
    path = state_dir / "google" / STATE_FILE_NAME
    path.unlink(missing_ok=True)
    shutil.rmtree(path.parent / PROJECTS_DIR_NAME, ignore_errors=True)
    return path


def cloud_run_env(service: str) -> dict[str, str]:
    """What Cloud Run sets in a service's container."""
    return {"K_SERVICE": service, "K_REVISION": f"{service}-00001-wif", "K_CONFIGURATION": service}
