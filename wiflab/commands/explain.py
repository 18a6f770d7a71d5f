"""``wiflab explain``: its flags, mapped to ``wiflab_lab.explain.ExplainOptions``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from wiflab.commands.conventions import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, NO_COLOR
from wiflab.commands.up import DEFAULT_TOPOLOGY, PATH, usage_failed

DESCRIPTION = """\
What Google's side would do with a token, without sending it anywhere: for a
subject token, each provider's exchange (audience, issuer, key, times, every
mapped attribute, the condition clause by clause), the service accounts the
principal could act as and by which binding, and the Cloud Run services it
could invoke; for a Google ID token, who it is and which services admit it; for
an access token, what the local Google side's tokeninfo says of it.

TOKEN_OR_FILE is a token, a file holding one, or an external-account config
(its credential_source.file is read)."""

EPILOG = f"""\
\b
examples:
  wiflab explain "$(cat token.jwt)"         against {DEFAULT_TOPOLOGY}; keys not checked
  wiflab explain --endpoints STATE_DIR/endpoints.json token.jwt
                                           the running stack's topology and IdP keys
  wiflab explain --at 2026-12-01T18:00:00Z token.jwt   as of that moment
  wiflab explain --json credentials/alice.json         decisions, per path

\b
exit status: 0 some path succeeds, 1 none does, 2 bad arguments or files."""


@click.command("explain", help=DESCRIPTION, epilog=EPILOG)
@click.argument("token_or_file", metavar="TOKEN_OR_FILE")
@click.option(
    "--endpoints",
    type=PATH,
    help="a running stack's endpoints.json: its topology, and the lab IdP's and Google's "
    "keys and tokeninfo, over loopback",
)
@click.option("--topology", type=PATH, help=f"the topology file (default: {DEFAULT_TOPOLOGY})")
@click.option(
    "--at", metavar="TIME", help="judge as of TIME (RFC 3339 or epoch seconds; default: now)"
)
@click.option("--json", "json_output", is_flag=True, help="the decisions of each path, as JSON")
def explain(
    token_or_file: str,
    endpoints: Path | None,
    topology: Path | None,
    at: str | None,
    json_output: bool,
) -> int:
    from wiflab_lab.explain import ExplainOptions, parse_at, run
    from wiflab_lab.up import UsageError

    try:
        moment = parse_at(at) if at is not None else None
    except ValueError as exc:
        print(f"wiflab explain: --at {exc}", file=sys.stderr)
        return EXIT_USAGE
    asked = ExplainOptions(
        token_or_file,
        endpoints=endpoints,
        topology=topology,
        at=moment,
        json=json_output,
        colour=not os.environ.get(NO_COLOR) and sys.stdout.isatty(),
    )
    try:
        return EXIT_OK if run(asked) else EXIT_REFUSED
    except UsageError as exc:
        return usage_failed(exc)
