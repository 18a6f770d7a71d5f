"""The ``wiflab`` command line: each feature contributes its own subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that expose ``register(subparsers)``; each adds its subcommands and sets
# ``func`` (taking the parsed args, returning an exit code) on its parsers.
COMMAND_MODULES = (
    "idp_server.commands",
    "wiflab_lab.up",
    "wiflab_lab.demo",
    "deploy.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wiflab", description="A lab for Google Cloud Workload Identity Federation."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
