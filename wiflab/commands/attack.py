"""``wiflab attack``: the tokens an attacker can get from your providers' issuers, judged by
STS's own rules against the topology (``wiflab_lab.attacks``); nothing is sent anywhere."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from wiflab.commands.conventions import EXIT_OK, EXIT_REFUSED
from wiflab.commands.up import DEFAULT_TOPOLOGY, PATH

EPILOG = """\
\b
examples:
  wiflab attack                         every preset issuer wif.yaml's providers trust
  wiflab attack --topology t.yaml --preset github --json

\b
exit status: 0 every attack refused, 1 some attack got through, 2 bad arguments or files."""


@click.command("attack", epilog=EPILOG)
@click.option("--topology", type=PATH, help=f"the topology file (default: {DEFAULT_TOPOLOGY})")
@click.option("--preset", help="only this preset's attacks (github, gitlab, kubernetes, ...)")
@click.option("--json", "json_output", is_flag=True, help="each attack's decision, as JSON")
def attack(topology: Path | None, preset: str | None, json_output: bool) -> int:
    """Try each preset's attacks (a similar owner name, a fork's pull request, another
    branch, namespace or cluster, ...) against the providers that trust its issuer."""
    from idp_server.presets import PRESETS
    from mock_gcp.topology import TopologyError, load_topology
    from wiflab_lab.attacks import render_text, run_attacks

    if preset is not None and preset not in PRESETS:
        raise click.UsageError(f"--preset: {preset!r} is not one of {', '.join(PRESETS)}")
    path = topology or DEFAULT_TOPOLOGY
    try:
        loaded = load_topology(path)
    except TopologyError as exc:
        raise click.UsageError(f"--topology {path}: {exc}") from None
    results = run_attacks(loaded, preset)
    if json_output:
        json.dump([r.to_json() for r in results], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(results))
    return EXIT_REFUSED if any(r.got_through for r in results) else EXIT_OK
