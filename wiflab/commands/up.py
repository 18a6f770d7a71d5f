"""``wiflab up``, and the stack flags ``wiflab demo`` shares with it.

The choices and defaults are written here, not imported from the lab, so that --help loads
none of it; ``tests/wiflab/test_cli.py`` checks they are the lab's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from wiflab.commands.conventions import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, IDP_TOKEN_SECRET
from wiflab.commands.groups import F, options

if TYPE_CHECKING:
    from wiflab_lab.up import UsageError

DEFAULT_TOPOLOGY = Path("wif.yaml")  # wiflab_lab.up.DEFAULT_TOPOLOGY
MODES = ("threads", "processes")  # wiflab_lab.stack.MODES
DEFAULT_PORT_BASE = 8700  # wiflab_lab.stack.DEFAULT_PORT_BASE
LOOPBACK = "127.0.0.1"

PATH = click.Path(path_type=Path)


def stack_options(port_base: int, *, many_projects: bool = False) -> Callable[[F], F]:
    """The flags of the stack to start: --topology, --state-dir, --mode, --host, --port-base,
    --google-issuer, --google-workers. ``many_projects``: --topology may be repeated, one
    project each (mock_gcp.projects), the first the default one."""
    topology_help = f"the topology file (default: {DEFAULT_TOPOLOGY})"
    if many_projects:
        topology_help += (
            "; repeat it to serve more projects, each under its own project number "
            "(the first is the default one)"
        )
    return options(
        click.option("--topology", type=PATH, multiple=many_projects, help=topology_help),
        click.option(
            "--state-dir",
            type=PATH,
            help="where endpoints.json and credentials/ go (default: a temp dir)",
        ),
        click.option("--mode", type=click.Choice(MODES), default="threads", show_default=True),
        click.option("--host", default=LOOPBACK, show_default=True),
        click.option(
            "--port-base",
            type=int,
            default=port_base,
            help=f"fixed ports from here (default {port_base}); 0 = ephemeral ports",
        ),
        click.option(
            "--google-issuer",
            help="iss of Google-signed ID tokens (default: the stand-in's own URL; "
            "https://accounts.google.com for relying parties that insist on it)",
        ),
        click.option(
            "--google-workers",
            type=click.IntRange(min=1),
            help="processes mode: gunicorn workers of Google's side (default: the cores)",
        ),
    )


def idp_token_secret() -> str | None:
    return os.environ.get(IDP_TOKEN_SECRET) or None


def usage_failed(exc: UsageError) -> int:
    print(f"{exc.command}: {exc.message}", file=sys.stderr)
    return EXIT_USAGE


@click.command("up")
@stack_options(port_base=DEFAULT_PORT_BASE, many_projects=True)
@click.option(
    "--intercept",
    is_flag=True,
    help="also serve Google's own hosts (sts.googleapis.com, ...) through a loopback proxy "
    "with a local CA, so unchanged clients reach the stand-in: "
    'eval "$(wiflab env --endpoints STATE_DIR/endpoints.json)"',
)
@click.option(
    "--journal-size",
    type=click.IntRange(0, 1_000_000),
    default=1000,
    show_default=True,
    help="how many requests the journal keeps, with their decisions (0: no journal)",
)
def up(**flags: Any) -> int:
    from wiflab_lab.lint import warn
    from wiflab_lab.up import PartDied, StackFlags, UsageError
    from wiflab_lab.up import up as serve

    topologies = flags.pop("topology") or ()
    try:
        # lint's rules on the topology, printed as warnings once the stack has loaded it.
        serve(
            StackFlags(
                **flags,
                topology=topologies[0] if topologies else None,
                more_topologies=tuple(topologies[1:]),
                idp_token_secret=idp_token_secret(),
            ),
            loaded=warn,
        )
    except UsageError as exc:
        return usage_failed(exc)
    except PartDied as exc:
        print(f"wiflab up: {exc.message}", file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK
