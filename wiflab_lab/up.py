"""``wiflab up``: the local stack in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from mock_gcp.topology import TopologyError
from wiflab_lab.stack import DEFAULT_PORT_BASE, MODES, Stack, StackOptions

DEFAULT_TOPOLOGY = Path("wif.yaml")
# Bad flags, topology or settings: nothing was started.
EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    up = subparsers.add_parser(
        "up", help="run the IdP, Google's side and the Cloud Run services locally"
    )
    add_stack_arguments(up)
    up.set_defaults(func=up_command)


def add_stack_arguments(
    parser: argparse.ArgumentParser, port_base: int = DEFAULT_PORT_BASE
) -> None:
    parser.add_argument(
        "--topology", type=Path, help=f"the topology file (default: {DEFAULT_TOPOLOGY})"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="where endpoints.json and credentials/ go (default: a temp dir)",
    )
    parser.add_argument("--mode", choices=MODES, default="threads")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port-base",
        type=int,
        default=port_base,
        help=f"fixed ports from here (default {port_base}); 0 = ephemeral ports",
    )
    parser.add_argument(
        "--google-issuer",
        help="iss of Google-signed ID tokens (default: the stand-in's own URL; "
        "https://accounts.google.com for relying parties that insist on it)",
    )


def stack_from_args(args: argparse.Namespace) -> Stack:
    """A Stack, or exit 2 with what is wrong (the topology, the settings) before any port opens."""
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="wiflab-"))
    args.topology = args.topology or DEFAULT_TOPOLOGY
    options = StackOptions(
        args.topology,
        state_dir,
        args.mode,
        args.host,
        args.port_base,
        args.google_issuer,
        idp_token_secret=os.environ.get("IDP_TOKEN_SECRET") or None,
    )
    try:
        return Stack(options)
    except ValueError as exc:  # a TopologyError, or settings the stack refuses
        # A topology error names the file itself when it could not be read at all.
        named = not isinstance(exc, TopologyError) or str(args.topology) in str(exc)
        print(f"wiflab: {'' if named else f'{args.topology}: '}{exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def up_command(args: argparse.Namespace) -> int:
    return serve_until_signalled(stack_from_args(args))


def serve_until_signalled(stack: Stack) -> int:
    """Start the stack, print the ready line, and stop cleanly on SIGINT or SIGTERM."""
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    with stack:
        print(f"wiflab ready: {stack.endpoints_path}", flush=True)
        stopping.wait()
    return 0
