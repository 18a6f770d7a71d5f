"""The IdP under gunicorn in this process: the production serve path (``wiflab idp serve``)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


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
            # Measured with bench/idp_tokens.py: gthread's keep-alive saves the TCP handshake
            # but its thread hand-off costs more CPU per token than sync workers do.
            "worker_class": "sync",
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
