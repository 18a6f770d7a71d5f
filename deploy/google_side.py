"""Google's side of the local stack for an IdP and apps that run elsewhere (in containers).

``wiflab up`` runs every part itself. Here the IdP and the protected apps are given as URLs
(compose.yaml's containers, the container tests'), and this serves the rest in threads, on
``wiflab up``'s ports: the stand-in (STS, IAM Credentials, Google's issuer, metadata) and a
Cloud Run front end per topology service in front of its upstream. Once every upstream
answers it writes the same ``endpoints.json`` and credentials as ``wiflab up``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deploy.errors import EXIT_USAGE
from deploy.target import IDP_APP
from mock_gcp.backend import GoogleBackend, LocalDeviations
from mock_gcp.topology import TopologyError
from wiflab.serving import LOOPBACK, ThreadedServer, wait_ready
from wiflab.stack import DEFAULT_PORT_BASE, Stack, StackOptions

UPSTREAM_WAIT_SECONDS = 120.0
ADMIN_SECRET_FILE = "idp-admin-secret"
PROFILES_FILE = "idp-profiles.json"


class GoogleSide(Stack):
    """A ``Stack`` whose IdP and apps run elsewhere: ``upstreams`` maps each service that is not
    the IdP to its app's URL. The IdP must share ``admin_secret`` (IDP_ADMIN_SECRET)."""

    def __init__(
        self,
        options: StackOptions,
        idp_url: str,
        upstreams: Mapping[str, str],
        admin_secret: str,
        wait_seconds: float = UPSTREAM_WAIT_SECONDS,
    ):
        super().__init__(options)
        missing = [
            s.name for s in self.topology.services if s.app != IDP_APP and s.name not in upstreams
        ]
        if missing:
            raise ValueError(f"no upstream URL for {', '.join(missing)}")
        self._idp_url = idp_url.rstrip("/")
        self._upstreams = dict(upstreams)
        self._given_admin_secret = admin_secret
        self._wait_seconds = wait_seconds

    # Overrides Stack's in-process assembly (the IdP and app servers are the only difference).
    def _start_threads(self) -> dict[str, Any]:
        from mock_gcp.api.app import create_app as create_google
        from mock_gcp.run import create_app_for_topology

        host = self.options.host
        google = ThreadedServer(port=self._port(1), host=host)
        issuer = self.options.google_issuer or google.url
        backend = GoogleBackend(
            self.topology, LocalDeviations(google_issuer=issuer, lab_idp_issuer=self._idp_url)
        )
        google.app = create_google(backend)
        self.backend = backend
        self._admin_secret = self._given_admin_secret
        servers = [google]
        services: dict[str, str] = {}
        for i, service in self._services():
            upstream = self._idp_url if service.app == IDP_APP else self._upstreams[service.name]
            front = ThreadedServer(port=self._port(10 + 2 * i), host=host)
            front.app = create_app_for_topology(
                lambda: backend.topology,
                service.name,
                service_url=front.url,
                upstream_url=upstream,
                google_keys=backend.issuer.key_for,
                google_issuers=[issuer],
            )
            servers.append(front)
            services[service.name] = front.url
        for server in servers:
            self._exit.enter_context(server)
        for upstream in {self._idp_url, *self._upstreams.values()}:
            wait_ready(f"{upstream}/healthz", self._wait_seconds)
        return {"idp": self._idp_url, "google": google.url, "services": services}


def register(subparsers: Any) -> None:
    side = subparsers.add_parser(
        "google-side",
        help="serve Google's side locally for an IdP and apps running elsewhere (compose)",
        description=__doc__.split("\n\n")[1],
    )
    side.add_argument("--topology", type=Path, default=Path("wif.yaml"))
    side.add_argument("--state-dir", type=Path, required=True)
    side.add_argument("--idp-url", required=True, help="where the IdP answers")
    side.add_argument(
        "--app",
        action="append",
        default=[],
        metavar="SERVICE=URL",
        help="where the app behind each non-IdP service answers",
    )
    side.add_argument("--host", default=LOOPBACK)
    side.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE)
    side.set_defaults(func=google_side_command)


def google_side_command(args: argparse.Namespace) -> int:
    """Writes the IdP's admin secret and profiles for it first (its container reads them), then
    serves until SIGTERM or SIGINT."""
    options = StackOptions(args.topology, args.state_dir, "threads", args.host, args.port_base)
    try:
        upstreams = _pairs(args.app)
        side = GoogleSide(options, args.idp_url, upstreams, _admin_secret(args.state_dir))
    except (TopologyError, ValueError) as exc:
        print(f"wiflab deploy google-side: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _write_private(args.state_dir / PROFILES_FILE, json.dumps(side.topology.idp.plain()))
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    with side:
        print(f"wiflab ready: {side.endpoints_path}", flush=True)
        stopping.wait()
    return 0


def _pairs(values: list[str]) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, url = value.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise ValueError(f"--app: expected SERVICE=http://HOST:PORT, not {value!r}")
        pairs[name] = url
    return pairs


def _admin_secret(state_dir: Path) -> str:
    """The secret the IdP container reads too; kept across restarts of the stack."""
    path = state_dir / ADMIN_SECRET_FILE
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(24))
    return path.read_text(encoding="utf-8").strip()


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
