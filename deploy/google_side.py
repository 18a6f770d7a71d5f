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
import sys
from pathlib import Path
from typing import Any

from deploy.errors import EXIT_USAGE
from mock_gcp.topology import IDP_APP, TopologyError
from wiflab_core.serving import LOOPBACK
from wiflab_lab.credential_set import write_private
from wiflab_lab.stack import ADMIN_SECRET_FILE, DEFAULT_PORT_BASE, Stack, StackOptions
from wiflab_lab.up import serve_until_signalled

PROFILES_FILE = "idp-profiles.json"


def register(subparsers: Any) -> None:
    side = subparsers.add_parser(
        "google-side",
        help="serve Google's side locally for an IdP and apps running elsewhere (compose)",
        description=__doc__.split("\n\n")[1],
    )
    _arguments(side)


def main(argv: list[str] | None = None) -> int:
    """``python -m deploy.google_side``: the command without the wiflab command line, which the
    google image does not ship."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.google_side", description=__doc__.split("\n\n")[1]
    )
    _arguments(parser)
    return google_side_command(parser.parse_args(argv))


def _arguments(side: argparse.ArgumentParser) -> None:
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
    try:
        options = StackOptions(
            args.topology,
            args.state_dir,
            host=args.host,
            port_base=args.port_base,
            idp_url=args.idp_url.rstrip("/"),
            app_urls=_pairs(args.app),
            admin_secret=_admin_secret(args.state_dir),
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
        print(f"wiflab deploy google-side: {exc}", file=sys.stderr)
        return EXIT_USAGE
    write_private(args.state_dir / PROFILES_FILE, json.dumps(side.topology.idp.plain()))
    return serve_until_signalled(side)


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
        write_private(path, secrets.token_urlsafe(24))
    return path.read_text(encoding="utf-8").strip()


if __name__ == "__main__":
    sys.exit(main())
