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
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from deploy.errors import EXIT_USAGE, DeployError
from mock_gcp.topology import IDP_APP, TopologyError
from wiflab_core.private_file import write_private
from wiflab_core.serving import LOOPBACK
from wiflab_lab.stack import ADMIN_SECRET_FILE, DEFAULT_PORT_BASE, Stack, StackOptions
from wiflab_lab.up import PartDied, serve_until_signalled

PROFILES_FILE = "idp-profiles.json"


def google_side(
    topology: Path,
    state_dir: Path,
    idp_url: str,
    apps: Sequence[str] = (),
    host: str = LOOPBACK,
    port_base: int = DEFAULT_PORT_BASE,
) -> None:
    """Writes the IdP's admin secret, its profiles and each app's front-end secret first (their
    containers read them: ``state/front-end-secret.SERVICE``), then serves until SIGTERM or
    SIGINT. ``apps`` are ``SERVICE=URL``; a DeployError (usage) when
    the topology or the URLs do not fit, a DeployError (failed) when a part stops by itself."""
    try:
        app_urls = _pairs(apps)
        options = StackOptions(
            topology,
            state_dir,
            host=host,
            port_base=port_base,
            idp_url=idp_url.rstrip("/"),
            app_urls=app_urls,
            app_secrets={name: _secret(state_dir, f"front-end-secret.{name}") for name in app_urls},
            admin_secret=_secret(state_dir, ADMIN_SECRET_FILE),
            # A container's loopback is no browser's: no flow explorer there.
            explorer=False,
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
    try:
        serve_until_signalled(side)
    except PartDied as exc:
        # As `wiflab up`: a part that stopped is named, with no traceback, and the exit fails.
        raise DeployError(exc.message) from None


def _pairs(values: Sequence[str]) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, url = value.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise ValueError(f"--app: expected SERVICE=http://HOST:PORT, not {value!r}")
        pairs[name] = url
    return pairs


def _secret(state_dir: Path, name: str) -> str:
    """A secret another container reads too (the IdP's admin secret, an app's front-end
    secret); kept across restarts of the stack."""
    path = state_dir / name
    if not path.exists():
        write_private(path, secrets.token_urlsafe(24))
    return path.read_text(encoding="utf-8").strip()


@click.command(
    "google-side",
    short_help="serve Google's side locally for an IdP and apps running elsewhere (compose)",
)
@click.option("--topology", type=click.Path(path_type=Path), default=Path("wif.yaml"))
@click.option("--state-dir", type=click.Path(path_type=Path), required=True)
@click.option("--idp-url", required=True, help="where the IdP answers")
@click.option(
    "--app",
    "apps",
    multiple=True,
    metavar="SERVICE=URL",
    help="where the app behind each non-IdP service answers",
)
@click.option("--host", default=LOOPBACK, show_default=True)
@click.option("--port-base", type=int, default=DEFAULT_PORT_BASE, show_default=True)
def command(
    topology: Path,
    state_dir: Path,
    idp_url: str,
    apps: tuple[str, ...],
    host: str,
    port_base: int,
) -> int:
    """Serve Google's side for an IdP and apps given by URL, as ``wiflab up`` would serve it:
    ``wiflab deploy google-side``, and ``python -m deploy.google_side`` in the google image,
    which ships no command line."""
    try:
        google_side(topology, state_dir, idp_url, apps, host, port_base)
    except DeployError as exc:
        print(f"wiflab deploy google-side: {exc.message}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(command.main(standalone_mode=False))
