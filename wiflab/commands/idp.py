"""``wiflab idp serve | jwks | keys ...``: the fake OIDC identity provider.

``serve`` is the IdP's own start (``python -m idp_server``: its flags, its help); ``jwks`` and
``keys`` are clients of a key source and of a running IdP. The IdP's modules are imported
when a subcommand runs, so --help loads none of them.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from wiflab.commands.conventions import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, IDP_ADMIN_SECRET
from wiflab.commands.groups import OrderedGroup

if TYPE_CHECKING:
    from idp_server.client import IdpClient

NO_KEYS_HINT = (
    "pass --key-file (PEM or JWK set) or set IDP_KEY_FILE / IDP_SIGNING_KEYS; make a key with "
    "'openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out idp-key.pem'"
)
# One-line helps, listed whole by the group (click would shorten a long docstring).
SERVE_HELP = "serve the IdP under gunicorn"
JWKS_HELP = "print the JWKS the IdP publishes for a key source (for --jwk-json-path)"
KEYS_HELP = "rotate a running IdP's keys (IDP_ADMIN_SECRET from the environment)"
ACTIVATE_HELP = "make a key the signer (the previous one stays published)"

ISSUER_URL = click.option("--issuer-url", required=True, help="the running IdP's URL")


@click.group("idp", cls=OrderedGroup)
def idp() -> None:
    pass  # its help is the root's line for it


@idp.command(
    "serve",
    short_help=SERVE_HELP,
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def serve(args: tuple[str, ...]) -> int:
    # The flags are `python -m idp_server`'s, parsed (and --help answered) by the IdP itself.
    from idp_server.serve import main

    try:
        return main(args, prog="wiflab idp serve")
    except SystemExit as exc:  # argparse: --help (0) or a bad flag (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE


@idp.command("jwks", help=JWKS_HELP, short_help=JWKS_HELP)
@click.option("--key-file", help="PEM or JWK-set private keys (default: IDP_KEY_FILE)")
def jwks(key_file: str | None) -> int:
    from idp_server.errors import ConfigError
    from idp_server.keystore import initial_keyset
    from idp_server.settings import key_source_from_env, read_key_file

    try:
        source = (
            read_key_file(key_file, "--key-file") if key_file else key_source_from_env(os.environ)
        )
        if source is None:
            raise ConfigError(f"no keys to publish: {NO_KEYS_HINT}")
        keyset = initial_keyset(source)
    except ConfigError as exc:
        print(f"wiflab idp jwks: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(json.loads(keyset.jwks_json), indent=2))
    return EXIT_OK


@idp.group("keys", cls=OrderedGroup, help=KEYS_HELP, short_help=KEYS_HELP)
def keys() -> None:
    pass


@keys.command("list", help="list the keys and their status")
@ISSUER_URL
def list_keys(issuer_url: str) -> int:
    return _rotate("list", issuer_url, lambda client: client.list_keys())


@keys.command("add", help="generate a new key on the IdP")
@ISSUER_URL
@click.option("--alg", type=click.Choice(("RS256", "ES256")), default="RS256", show_default=True)
@click.option("--activate", is_flag=True, help="sign with it from now on")
@click.option("--held", is_flag=True, help="sign on request, never publish")
def add_key(issuer_url: str, alg: str, activate: bool, held: bool) -> int:
    from idp_server.keyset import KeyStatus

    if activate and held:  # argparse's words for its mutually exclusive group
        raise click.UsageError("argument --held: not allowed with argument --activate")
    status = KeyStatus.HELD if held else KeyStatus.ACTIVE if activate else KeyStatus.PUBLISHED

    def add(client: IdpClient) -> list[dict[str, str]]:
        answer = client.add_key(alg, status.value)
        print(f"added {answer['added']['kid']}")
        return answer["keys"]

    return _rotate("add", issuer_url, add)


@keys.command("activate", help=ACTIVATE_HELP, short_help=ACTIVATE_HELP)
@ISSUER_URL
@click.argument("kid")
def activate_key(issuer_url: str, kid: str) -> int:
    return _rotate("activate", issuer_url, lambda client: client.activate_key(kid))


@keys.command("retire", help="remove a key from /certs and from signing")
@ISSUER_URL
@click.argument("kid")
def retire_key(issuer_url: str, kid: str) -> int:
    return _rotate("retire", issuer_url, lambda client: client.retire_key(kid))


def _rotate(name: str, issuer_url: str, call: Callable[[IdpClient], list[dict[str, str]]]) -> int:
    """One admin call; the IdP's keys as it answers them."""
    from idp_server.client import IdpClient, IdpClientError

    client = IdpClient(issuer_url, admin_secret=os.environ.get(IDP_ADMIN_SECRET))
    try:
        answered = call(client)
    except IdpClientError as exc:
        print(f"wiflab idp keys {name}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    for key in answered:
        print(f"{key['kid']}  {key['alg']}  {key['status']}")
    return EXIT_OK
