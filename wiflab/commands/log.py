"""``wiflab log``: the journal of a running stack, as numbered chains (issue 13)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from wiflab.commands.conventions import EXIT_OK, EXIT_REFUSED, NO_COLOR
from wiflab.commands.up import PATH, usage_failed

DESCRIPTION = """\
Every request that reached Google's side (STS, IAM Credentials, the issuer and
tokeninfo, the metadata server, each Cloud Run front end), with the checks it
made, grouped into numbered chains: the exchange, then each call its tokens
made. A refusal shows the nearest miss and what to check."""

EPILOG = """\
\b
examples:
  wiflab log --endpoints STATE_DIR/endpoints.json            every chain so far
  wiflab log --endpoints STATE_DIR/endpoints.json --follow   and each new request
  wiflab log --endpoints STATE_DIR/endpoints.json --json     one entry a line

\b
exit status: 0 shown, 1 the journal did not answer, 2 bad flags or files."""


@click.command("log", help=DESCRIPTION, epilog=EPILOG)
@click.option(
    "--endpoints",
    type=PATH,
    envvar="WIFLAB_ENDPOINTS",
    required=True,
    help="the endpoints.json of the running stack (`wiflab up` prints it); "
    "default: $WIFLAB_ENDPOINTS",
)
@click.option("--follow", "-f", is_flag=True, help="keep printing requests as they come")
@click.option("--json", "json_output", is_flag=True, help="one JSON entry a line, for machines")
@click.option("--chain", metavar="ID", help="only this chain")
def log(endpoints: Path, follow: bool, json_output: bool, chain: str | None) -> int:
    from wiflab_lab.demo.log import LogOptions, show
    from wiflab_lab.up import UsageError

    options = LogOptions(
        endpoints,
        follow,
        json_output,
        colour=sys.stdout.isatty() and not os.environ.get(NO_COLOR),
        chain=chain,
    )
    try:
        return EXIT_OK if show(options) else EXIT_REFUSED
    except UsageError as exc:
        return usage_failed(exc)
    except KeyboardInterrupt:
        return EXIT_OK
