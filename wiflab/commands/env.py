"""``wiflab env``: the shell lines that make one shell's clients use intercept mode.

``eval "$(wiflab env --endpoints STATE_DIR/endpoints.json)"`` sets them in the current shell
only (and its children); ``eval "$(wiflab env --unset)"`` removes them again.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from wiflab.commands.conventions import EXIT_OK, EXIT_USAGE

ENDPOINTS_ENV = "WIFLAB_ENDPOINTS"


@click.command("env")
@click.option(
    "--endpoints",
    type=click.Path(path_type=Path),
    help=f"the endpoints.json of a `wiflab up --intercept` (default: ${ENDPOINTS_ENV})",
)
@click.option("--unset", is_flag=True, help="print the lines that unset the same variables")
def env(endpoints: Path | None, unset: bool) -> int:
    from wiflab_core import endpoints as endpoints_file
    from wiflab_lab.intercept import environment

    if unset:
        sys.stdout.write(environment.unset_lines())
        return EXIT_OK
    path = endpoints or (Path(os.environ[ENDPOINTS_ENV]) if os.environ.get(ENDPOINTS_ENV) else None)
    if path is None:
        print(
            f"wiflab env: pass --endpoints STATE_DIR/endpoints.json (or set {ENDPOINTS_ENV}): "
            "the file `wiflab up --intercept` names in its ready line",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        intercept = endpoints_file.load(path).require_intercept()
    except endpoints_file.EndpointsError as exc:
        where = "" if str(path) in str(exc) else f"{path}: "
        print(f"wiflab env: {where}{exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(environment.shell_lines(intercept.env))
    return EXIT_OK
