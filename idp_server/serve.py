"""Start the IdP: ``python -m idp_server`` (the image's entry point) and ``wiflab idp serve``.

The key set is built once from the key source (--key-file, IDP_KEY_FILE, IDP_SIGNING_KEYS,
else a fresh RS256 + ES256 key) and written to the key state file; gunicorn then serves the
app, and every worker signs and publishes from that one file. Nothing here imports the lab or
the command line, so the IdP's image needs only this package and the core.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8080
DEFAULT_WORKERS = 2
# Bad flags or settings: nothing was started (argparse's own status for bad flags).
EXIT_USAGE = 2


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Serve the IdP under gunicorn.")
    parser.add_argument("--host", help="bind address (default: IDP_BIND_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument(
        "--issuer", help="the issuer URL (default: IDP_ISSUER, else on loopback the listening URL)"
    )
    parser.add_argument("--key-file", help="PEM or JWK-set private keys (default: IDP_KEY_FILE)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="where the key state file goes (default: a new private temp dir, removed at exit)",
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "python -m idp_server") -> int:
    args = build_parser(prog).parse_args(argv)
    return serve(
        host=args.host,
        port=args.port,
        issuer=args.issuer,
        key_file=args.key_file,
        workers=args.workers,
        state_dir=args.state_dir,
        prog=prog,
    )


def serve(
    *,
    host: str | None = None,
    port: int = DEFAULT_PORT,
    issuer: str | None = None,
    key_file: str | None = None,
    workers: int = DEFAULT_WORKERS,
    state_dir: Path | None = None,
    prog: str = "python -m idp_server",
) -> int:
    """Serve until gunicorn stops (SIGTERM, SIGINT); ``EXIT_USAGE`` for bad settings."""
    # Imported here: `--help` and bad flags answer without loading Flask and gunicorn.
    from idp_server.app import create_app
    from idp_server.errors import ConfigError
    from idp_server.gunicorn_app import IdpGunicorn
    from idp_server.keystore import create_state_file, initial_keyset
    from idp_server.settings import IdpSettings, is_loopback, read_key_file
    from wiflab_core.serving import bind_socket, url_of

    logging.basicConfig(
        level=logging.INFO,
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
    )
    state_file: Path | None = None

    def remove_private_state() -> None:
        if state_file is not None and state_dir is None:
            shutil.rmtree(state_file.parent, ignore_errors=True)

    overrides: dict[str, Any] = {}
    try:
        if host:
            overrides["bind_host"] = host
        if issuer:
            overrides["issuer"] = issuer
        if key_file:
            overrides["key_source"] = read_key_file(key_file, "--key-file")
        settings = IdpSettings.from_env(os.environ, **overrides)
        keyset = initial_keyset(settings.key_source)
        sock = bind_socket(settings.bind_host, port)
        listening = url_of(sock)
        if settings.issuer is None and not settings.issuer_from_host:
            if not is_loopback(settings.bind_host):
                settings.require_issuer()
            settings = settings.replace(issuer=listening)
        state_file = create_state_file(keyset, state_dir)
        settings = settings.replace(key_state=state_file, key_source=None)
        app = create_app(settings)
    except (ConfigError, OSError) as exc:
        remove_private_state()
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE

    _say(f"issuer {settings.issuer or '(from each request Host header)'}")
    _say(f"listening on {listening} ({workers} gunicorn workers)")
    _say(f"keys ({state_file}):")
    for entry in keyset.entries:
        _say(f"  {entry.key.kid}  {entry.key.alg}  {entry.status.value}")
    guard = "Authorization: Bearer <IDP_TOKEN_SECRET>" if settings.minting_secret else "nothing"
    admin = "enabled (IDP_ADMIN_SECRET)" if settings.admin_secret else "disabled"
    _say(f"/token requires {guard}; admin routes {admin}")
    IdpGunicorn(app, sock, workers, on_exit=lambda _arbiter: remove_private_state()).run()
    return 0


def _say(line: str) -> None:
    print(f"wiflab idp: {line}", flush=True)
