"""The IdP under gunicorn in this process: the production serve path (``wiflab idp serve``)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

# As wiflab_lab.parts.SLOW_CLIENT_THREADS (the IdP's image does not ship the lab).
SLOW_CLIENT_THREADS = 64


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
            # gthread, not sync: a sync worker is held by one client that sends its headers
            # slowly (2 such clients stopped a 2-worker IdP); with 64 threads a worker holds
            # 64. Its keep-alive saves the TCP handshake, which pays for the thread hand-off
            # (bench/idp_tokens.py; the README's reliability section has the figures).
            "worker_class": "gthread",
            "threads": SLOW_CLIENT_THREADS,
            "preload_app": True,
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
