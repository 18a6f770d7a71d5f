"""Run every benchmark module listed here, or only those named on the command line."""

from __future__ import annotations

import importlib
import sys

# Each module exposes main(), which prints its figures and ratios.
MODULES = (
    "bench.cli_startup",
    "bench.idp_tokens",
    "bench.google_side",
    "bench.chain",
    "bench.grpc",
    "bench.intercept",
    "bench.explorer",
    "bench.journal",
    "bench.scale",
    "bench.cel",
    "bench.aws_side",
    "bench.ci_endpoints",
    "bench.lint",
    "bench.namespaces",
    "bench.aws_exchange",
    "bench.jwks_cache",
)


def main(names: list[str]) -> int:
    chosen = [m for m in MODULES if not names or m.rsplit(".", 1)[-1] in names]
    if not chosen:
        print(f"no benchmark named {', '.join(names)}; known: {', '.join(MODULES)}")
        return 2
    for name in chosen:
        print(f"== {name}", flush=True)
        importlib.import_module(name).main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
