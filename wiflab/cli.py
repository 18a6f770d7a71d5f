"""The ``wiflab`` command line: a click group whose subcommand families (``wiflab.commands.*``)
are imported only when one of them runs, so ``wiflab --help`` loads none of the lab."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from wiflab.commands.conventions import EXIT_OK, EXIT_REFUSED
from wiflab.commands.groups import LazyGroup

PROG = "wiflab"
# Name -> (where the click command is, its one-line help), in the order --help lists them.
SUBCOMMANDS = {
    "idp": ("wiflab.commands.idp:idp", "the fake OIDC identity provider"),
    "mint": (
        "wiflab.commands.mint:mint",
        "mint a token from a running IdP (IDP_TOKEN_SECRET from the environment)",
    ),
    "up": (
        "wiflab.commands.up:up",
        "run the IdP, Google's side and the Cloud Run services locally",
    ),
    "env": (
        "wiflab.commands.env:env",
        "print the shell lines that send this shell's clients through `wiflab up --intercept`",
    ),
    "demo": ("wiflab.commands.demo:demo", "run the whole WIF chain, explained step by step"),
    "explain": (
        "wiflab.commands.explain:explain",
        "what Google would do with a token, and why (sends nothing)",
    ),
    "log": (
        "wiflab.commands.log:log",
        "every request to Google's side with its decision, as numbered chains",
    ),
    "init": (
        "wiflab.commands.init:init",
        "write a topology provider with Google's recommended settings for a real provider",
    ),
    "attack": (
        "wiflab.commands.attack:attack",
        "try the tokens an attacker can get from your providers' issuers (sends nothing)",
    ),
    "deploy": (
        "wiflab.commands.deploy:deploy",
        "set up Cloud Run and WIF on Google Cloud from the topology",
    ),
    "lint": (
        "wiflab.commands.lint:lint",
        "check a WIF setup (topology, gcloud or terraform JSON) for common mistakes",
    ),
}


@click.group(
    cls=LazyGroup,
    lazy=SUBCOMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
def cli() -> None:
    """A lab for Google Cloud Workload Identity Federation."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line; its exit status (each subcommand returns its own)."""
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        status = cli.main(args, prog_name=PROG, standalone_mode=False)
    except click.ClickException as exc:  # usage errors: click's message and status 2
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return EXIT_REFUSED
    return status if isinstance(status, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
