"""The IdP under gunicorn in this process: the production serve path (``wiflab idp serve``)."""

from __future__ import annotations

import signal
import socket
import warnings
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

# gevent's worker patches the standard library after the app is preloaded, so it warns that
# ssl was imported first (by pyjwt's JWKS client and urllib3). The IdP opens no outbound
# connection, TLS or other: nothing uses the unpatched ssl.
warnings.filterwarnings(
    "ignore", message="Monkey-patching ssl after ssl has already been imported", category=Warning
)


class IdpGunicorn(BaseApplication):
    """gunicorn serving an app built once in the master (so config errors surface before any
    worker starts) on a socket bound by the caller (so port 0 has a known URL)."""

    def __init__(
        self, app: Flask, sock: socket.socket, workers: int, on_exit: Callable[[Any], None]
    ):
        self._app = app
        self._options = {
            "bind": [f"fd://{sock.fileno()}"],
            "workers": workers,
            # gevent, not sync or gthread: a sync worker is held by one client that sends its
            # headers slowly (2 such clients stopped a 2-worker IdP); gevent gives each
            # connection a greenlet, so slow clients hold none of the others, and it spends
            # less CPU per token than gthread's hand-off to a thread pool (bench/idp_tokens.py:
            # about 1.4x the tokens/s of gthread with 64 threads on this 2-core machine).
            "worker_class": "gevent",
            "preload_app": True,
            "post_fork": _exit_on_early_signals,
            "on_exit": on_exit,
            "loglevel": "info",
            # One control socket per user by default: parallel servers would fight over it.
            "control_socket_disable": True,
        }
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        return self._app


def _exit_on_early_signals(_arbiter: Any, worker: Any) -> None:
    """A worker inherits the master's signal handlers until it installs its own, after gevent
    has patched the standard library (~0.5 s): a SIGTERM in between was queued in the
    worker's copy of the master's queue and lost, and the worker lived on. Until then, a stop
    signal ends the worker's loop before it starts."""

    def stop(_signum: int, _frame: object) -> None:
        worker.alive = False

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, stop)
