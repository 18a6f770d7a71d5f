"""``python -m idp_server --host HOST --port PORT``: ``wiflab idp serve`` without the wiflab
command line, which the idp image does not ship."""

from __future__ import annotations

import argparse
import sys

from idp_server.commands import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m idp_server")
    register(parser.add_subparsers())
    args = parser.parse_args(["idp", "serve", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
