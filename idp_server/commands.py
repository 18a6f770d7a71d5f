"""``wiflab idp serve | jwks | keys ...`` and ``wiflab mint``.

``idp serve`` builds the key set once from the key source (--key-file, IDP_KEY_FILE,
IDP_SIGNING_KEYS, else a fresh RS256 + ES256 key), writes it to the key state file, and
serves the app under gunicorn; every worker signs and publishes from that one file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from idp_server.app import create_app
from idp_server.client import IdpClient, IdpClientError
from idp_server.errors import ConfigError
from idp_server.gunicorn_app import IdpGunicorn
from idp_server.keyset import KeyStatus
from idp_server.keystore import create_state_file, initial_keyset
from idp_server.settings import IdpSettings, is_loopback, key_source_from_env, read_key_file
from wiflab_core.serving import bind_socket, url_of

DEFAULT_PORT = 8080
NO_KEYS_HINT = (
    "pass --key-file (PEM or JWK set) or set IDP_KEY_FILE / IDP_SIGNING_KEYS; make a key with "
    "'openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out idp-key.pem'"
)


def register(subparsers: Any) -> None:
    idp = subparsers.add_parser("idp", help="the fake OIDC identity provider")
    idp_commands = idp.add_subparsers(dest="idp_command", required=True, metavar="COMMAND")

    serve = idp_commands.add_parser("serve", help="serve the IdP under gunicorn")
    serve.add_argument("--host", help="bind address (default: IDP_BIND_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    serve.add_argument(
        "--issuer", help="the issuer URL (default: IDP_ISSUER, else on loopback the listening URL)"
    )
    serve.add_argument("--key-file", help="PEM or JWK-set private keys (default: IDP_KEY_FILE)")
    serve.add_argument("--workers", type=int, default=2)
    serve.add_argument(
        "--state-dir",
        type=Path,
        help="where the key state file goes (default: a new private temp dir, removed at exit)",
    )
    serve.set_defaults(func=serve_command)

    jwks = idp_commands.add_parser(
        "jwks", help="print the JWKS the IdP publishes for a key source (for --jwk-json-path)"
    )
    jwks.add_argument("--key-file", help="PEM or JWK-set private keys (default: IDP_KEY_FILE)")
    jwks.set_defaults(func=jwks_command)

    keys = idp_commands.add_parser(
        "keys", help="rotate a running IdP's keys (IDP_ADMIN_SECRET from the environment)"
    )
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    for name, help_text in (
        ("list", "list the keys and their status"),
        ("add", "generate a new key on the IdP"),
        ("activate", "make a key the signer (the previous one stays published)"),
        ("retire", "remove a key from /certs and from signing"),
    ):
        command = keys_commands.add_parser(name, help=help_text)
        command.add_argument("--issuer-url", required=True, help="the running IdP's URL")
        if name in ("activate", "retire"):
            command.add_argument("kid")
        command.set_defaults(func=keys_command)
    add = keys_commands.choices["add"]
    add.add_argument("--alg", choices=("RS256", "ES256"), default="RS256")
    status = add.add_mutually_exclusive_group()
    status.add_argument("--activate", action="store_true", help="sign with it from now on")
    status.add_argument("--held", action="store_true", help="sign on request, never publish")

    mint = subparsers.add_parser(
        "mint", help="mint a token from a running IdP (IDP_TOKEN_SECRET from the environment)"
    )
    mint.add_argument("--issuer-url", required=True, help="the running IdP's URL")
    mint.add_argument("--claims", default="{}", help="the claims, a JSON object")
    mint.add_argument("--alg", help="sign with the active or a published key of this alg")
    mint.add_argument("--kid", help="sign with this key")
    mint.set_defaults(func=mint_command)


def serve_command(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
    )
    state_file: Path | None = None

    def remove_private_state() -> None:
        if state_file is not None and args.state_dir is None:
            shutil.rmtree(state_file.parent, ignore_errors=True)

    try:
        settings = IdpSettings.from_env(os.environ, **_flag_overrides(args))
        keyset = initial_keyset(settings.key_source)
        sock = bind_socket(settings.bind_host, args.port)
        listening = url_of(sock)
        if settings.issuer is None and not settings.issuer_from_host:
            if not is_loopback(settings.bind_host):
                settings.require_issuer()
            settings = settings.replace(issuer=listening)
        state_file = create_state_file(keyset, args.state_dir)
        settings = settings.replace(key_state=state_file, key_source=None)
        app = create_app(settings)
    except (ConfigError, OSError) as exc:
        remove_private_state()
        print(f"wiflab idp serve: {exc}", file=sys.stderr)
        return 2

    _say(f"issuer {settings.issuer or '(from each request Host header)'}")
    _say(f"listening on {listening} ({args.workers} gunicorn workers)")
    _say(f"keys ({state_file}):")
    for entry in keyset.entries:
        _say(f"  {entry.key.kid}  {entry.key.alg}  {entry.status.value}")
    guard = "Authorization: Bearer <IDP_TOKEN_SECRET>" if settings.minting_secret else "nothing"
    _say(f"/token requires {guard}; admin routes {_admin_state(settings)}")
    IdpGunicorn(app, sock, args.workers, on_exit=lambda _arbiter: remove_private_state()).run()
    return 0


def jwks_command(args: argparse.Namespace) -> int:
    try:
        source = (
            read_key_file(args.key_file, "--key-file")
            if args.key_file
            else key_source_from_env(os.environ)
        )
        if source is None:
            raise ConfigError(f"no keys to publish: {NO_KEYS_HINT}")
        keyset = initial_keyset(source)
    except ConfigError as exc:
        print(f"wiflab idp jwks: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(json.loads(keyset.jwks_json), indent=2))
    return 0


def keys_command(args: argparse.Namespace) -> int:
    client = IdpClient(args.issuer_url, admin_secret=os.environ.get("IDP_ADMIN_SECRET"))
    try:
        if args.keys_command == "add":
            status = KeyStatus.ACTIVE if args.activate else KeyStatus.PUBLISHED
            if args.held:
                status = KeyStatus.HELD
            answer = client.add_key(args.alg, status.value)
            print(f"added {answer['added']['kid']}")
            keys = answer["keys"]
        elif args.keys_command == "activate":
            keys = client.activate_key(args.kid)
        elif args.keys_command == "retire":
            keys = client.retire_key(args.kid)
        else:
            keys = client.list_keys()
    except IdpClientError as exc:
        print(f"wiflab idp keys {args.keys_command}: {exc}", file=sys.stderr)
        return 1
    for key in keys:
        print(f"{key['kid']}  {key['alg']}  {key['status']}")
    return 0


def mint_command(args: argparse.Namespace) -> int:
    client = IdpClient(args.issuer_url, token_secret=os.environ.get("IDP_TOKEN_SECRET"))
    try:
        print(client.mint(args.claims, alg=args.alg, kid=args.kid))
    except IdpClientError as exc:
        print(f"wiflab mint: {exc}", file=sys.stderr)
        return 1
    return 0


def _flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if args.host:
        overrides["bind_host"] = args.host
    if args.issuer:
        overrides["issuer"] = args.issuer
    if args.key_file:
        overrides["key_source"] = read_key_file(args.key_file, "--key-file")
    return overrides


def _admin_state(settings: IdpSettings) -> str:
    return "enabled (IDP_ADMIN_SECRET)" if settings.admin_secret else "disabled"


def _say(line: str) -> None:
    print(f"wiflab idp: {line}", flush=True)
