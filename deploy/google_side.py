"""Google's side of the local stack for an IdP and apps that run elsewhere (in containers).

``wiflab up`` runs every part itself. Here the IdP and the protected apps are given as URLs
(compose.yaml's containers, the container tests'), and this serves the rest in threads, on
``wiflab up``'s ports: the stand-in (STS, IAM Credentials, Google's issuer, metadata) and a
Cloud Run front end per topology service in front of its upstream. Once every upstream
answers it writes the same ``endpoints.json`` and credentials as ``wiflab up``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from pathlib import Path

from deploy.errors import EXIT_USAGE, DeployError
from mock_gcp.topology import IDP_APP, TopologyError
from wiflab_core.private_file import write_private
from wiflab_core.serving import LOOPBACK
from wiflab_lab.stack import ADMIN_SECRET_FILE, DEFAULT_PORT_BASE, Stack, StackOptions
from wiflab_lab.up import serve_until_signalled

PROFILES_FILE = "idp-profiles.json"


def google_side(
    topology: Path,
    state_dir: Path,
    idp_url: str,
    apps: Sequence[str] = (),
    host: str = LOOPBACK,
    port_base: int = DEFAULT_PORT_BASE,
) -> None:
    """Writes the IdP's admin secret and profiles for it first (its container reads them), then
    serves until SIGTERM or SIGINT. ``apps`` are ``SERVICE=URL``; a DeployError (usage) when
    the topology or the URLs do not fit."""
    try:
        options = StackOptions(
            topology,
            state_dir,
            host=host,
            port_base=port_base,
            idp_url=idp_url.rstrip("/"),
            app_urls=_pairs(apps),
            admin_secret=_admin_secret(state_dir),
        )
        side = Stack(options)
        missing = [
            s.name
            for s in side.topology.services
            if s.app != IDP_APP and s.name not in options.app_urls
        ]
        if missing:
            raise ValueError(f"--app: no URL for {', '.join(missing)}")
    except (TopologyError, ValueError) as exc:
        raise DeployError(str(exc), EXIT_USAGE) from None
    write_private(state_dir / PROFILES_FILE, json.dumps(side.topology.idp.plain()))
    serve_until_signalled(side)


def _pairs(values: Sequence[str]) -> dict[str, str]:
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
        write_private(path, secrets.token_urlsafe(24))
    return path.read_text(encoding="utf-8").strip()
