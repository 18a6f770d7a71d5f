"""``wiflab mint``: a token from a running IdP, printed for a shell to capture."""

from __future__ import annotations

import os
import sys

import click

from wiflab.commands.conventions import EXIT_OK, EXIT_REFUSED, IDP_TOKEN_SECRET


@click.command("mint")
@click.option("--issuer-url", required=True, help="the running IdP's URL")
@click.option("--claims", default="{}", show_default=True, help="the claims, a JSON object")
@click.option("--alg", help="sign with the active or a published key of this alg")
@click.option("--kid", help="sign with this key")
def mint(issuer_url: str, claims: str, alg: str | None, kid: str | None) -> int:
    from idp_server.client import IdpClient, IdpClientError

    client = IdpClient(issuer_url, token_secret=os.environ.get(IDP_TOKEN_SECRET))
    try:
        print(client.mint(claims, alg=alg, kid=kid))
    except IdpClientError as exc:
        print(f"wiflab mint: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK
