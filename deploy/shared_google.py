"""The Google side as one shared service (``wiflab deploy shared-google``): the google image's
entrypoint on Cloud Run, ``python -m deploy.shared_google``.

Only the stand-in (STS, IAM Credentials, Google's issuer, the lab's /wiflab/v1 API) under
gunicorn, on ``$PORT`` (Cloud Run's contract). What Cloud Run gives it:

| variable | meaning |
|---|---|
| PORT | where to listen (default 8080) |
| WIFLAB_BIND_HOST | the address (default 0.0.0.0; 127.0.0.1 keeps it on loopback) |
| WIFLAB_GOOGLE_ISSUER | the service's own URL, the ``iss`` of its ID tokens (required) |
| WIFLAB_GOOGLE_KEYS | the key source, a file (Secret Manager, mounted): required, it must exist |
| WIFLAB_ADMIN_SECRET | the admin secret (Secret Manager): required beyond loopback |
| WIFLAB_TOPOLOGY | a topology file, or: |
| WIFLAB_TOPOLOGY_INLINE | the topology itself (YAML or JSON text), written to the state dir |
| WIFLAB_STATE_DIR | the instance's own files: JWKS cache, topology, journal (/tmp/wiflab) |
| WIFLAB_GOOGLE_WORKERS | gunicorn workers (default: the CPUs this process may use) |
| WIFLAB_GOOGLE_THREADS | threads per worker (default 8) |

Every instance signs and seals with the keys of the one key source, so a token from one is good
on every other (``mock_gcp.key_source``). Each instance's workers share a JWKS cache, the
topology in force and the journal through the instance's state dir; instances share none (a run-time
topology reaches the instance that got the PUT: # unverified how Cloud Run spreads them).

It refuses to start, naming the variable, when a setting is missing or wrong, and beyond
loopback without an admin secret: the lab's API would otherwise be closed to every caller
(loopback only), and an admin secret is what keeps the journal and the topology guarded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from mock_gcp.admin_guard import is_loopback_address
from mock_gcp.journal.settings import JournalSettingsError
from mock_gcp.key_source import KeySource, KeySourceError
from mock_gcp.settings import GoogleSettings, SettingsError
from mock_gcp.topology import TopologyError, load_topology
from wiflab_core.private_file import write_private

DEFAULT_PORT = 8080
DEFAULT_HOST = "0.0.0.0"  # Cloud Run's contract: all interfaces of the container
DEFAULT_STATE_DIR = Path("/tmp/wiflab")  # Cloud Run's in-memory disk, per instance
DEFAULT_THREADS = 8
APP = "mock_gcp.app:create_app_from_env()"


class StartError(ValueError):
    """The service cannot start as configured: the message names the variable."""


def gunicorn_argv(environ: MutableMapping[str, str]) -> list[str]:
    """Check the settings and complete ``environ`` for the workers; the gunicorn command line.
    StartError names what is wrong."""
    host = environ.get("WIFLAB_BIND_HOST", "").strip() or DEFAULT_HOST
    port = _number(environ, "PORT", DEFAULT_PORT, 1, 65535)
    workers = _number(environ, "WIFLAB_GOOGLE_WORKERS", len(os.sched_getaffinity(0)), 1, 64)
    threads = _number(environ, "WIFLAB_GOOGLE_THREADS", DEFAULT_THREADS, 1, 256)
    loopback = host == "localhost" or is_loopback_address(host)
    if not loopback and not environ.get("WIFLAB_ADMIN_SECRET", "").strip():
        raise StartError(
            f"WIFLAB_ADMIN_SECRET is required to listen beyond loopback ({host}): the lab's "
            "/wiflab/v1 API (journal, topology) needs it"
        )
    state = Path(environ.get("WIFLAB_STATE_DIR", "").strip() or DEFAULT_STATE_DIR)
    inline = environ.get("WIFLAB_TOPOLOGY_INLINE", "")
    if inline.strip():
        if environ.get("WIFLAB_TOPOLOGY", "").strip():
            raise StartError("WIFLAB_TOPOLOGY and WIFLAB_TOPOLOGY_INLINE: set one, not both")
        topology = state / "topology.yaml"
        try:
            write_private(topology, inline)
        except OSError as exc:
            raise StartError(f"WIFLAB_STATE_DIR: cannot write {topology}: {exc}") from None
        environ["WIFLAB_TOPOLOGY"] = str(topology)
    keys = environ.get("WIFLAB_GOOGLE_KEYS", "").strip()
    if not keys:
        raise StartError(
            "WIFLAB_GOOGLE_KEYS is required: the key source every instance shares (a file)"
        )
    if not Path(keys).is_file():
        raise StartError(f"WIFLAB_GOOGLE_KEYS: {keys} is not a file")
    environ.setdefault("WIFLAB_JWKS_CACHE", str(state / "jwks"))
    environ.setdefault("WIFLAB_TOPOLOGY_STATE", str(state / "topology-state.json"))
    # One journal for the instance's workers (GET /wiflab/v1/journal answers from any of them).
    environ.setdefault("WIFLAB_JOURNAL_FILE", str(state / "journal"))
    try:
        settings = GoogleSettings.from_env(environ)
        load_topology(settings.topology)
        KeySource.open(Path(keys), create=False)
    except (SettingsError, JournalSettingsError) as exc:
        raise StartError(str(exc)) from None
    except TopologyError as exc:
        name = "WIFLAB_TOPOLOGY_INLINE" if inline.strip() else "WIFLAB_TOPOLOGY"
        raise StartError(f"{name}: {exc}") from None
    except KeySourceError as exc:
        raise StartError(str(exc)) from None
    return [
        sys.executable,
        "-m",
        "gunicorn",
        f"--bind={_bind(host, port)}",
        f"--workers={workers}",
        "--worker-class=gthread",
        f"--threads={threads}",
        # Cloud Run has its own request timeout; a graceful stop shorter than its 10 s.
        "--timeout=0",
        "--graceful-timeout=8",
        "--access-logfile=-",
        APP,
    ]


def _number(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise StartError(f"{name}: {text!r} is not a whole number from {low} to {high}")
    return int(text)


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def main() -> int:
    environ = dict(os.environ)
    try:
        argv = gunicorn_argv(environ)
    except StartError as exc:
        print(f"deploy.shared_google: {exc}", file=sys.stderr)
        return 2
    # exec: gunicorn's master becomes PID 1 and receives Cloud Run's SIGTERM itself.
    os.execve(argv[0], argv, environ)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
