"""Start a part (``wiflab_lab.parts``) in a thread of this process or under gunicorn.

Both take the part's already-bound socket, launch without waiting, and wait for all parts
afterwards: start-up costs one boot, not one per part.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack
from typing import Protocol

from wiflab_core.serving import GunicornProcess, ThreadedServer, import_string
from wiflab_lab.parts import Part


class Launcher(Protocol):
    def launch(self, part: Part, sock: socket.socket) -> None: ...

    def wait_ready(self) -> None: ...


class ThreadsLauncher:
    """Each part in werkzeug's threaded server here: the factory gets the settings object."""

    def __init__(self, exit_stack: ExitStack):
        self._exit = exit_stack

    def launch(self, part: Part, sock: socket.socket) -> None:
        app = import_string(part.factory)(part.settings, **part.shared)
        self._exit.enter_context(ThreadedServer(app, sock=sock))

    def wait_ready(self) -> None:
        """A thread serves as soon as it starts."""


class GunicornLauncher:
    """Each part under gunicorn in a child process, built there from ``to_env()``."""

    def __init__(self, exit_stack: ExitStack):
        self._exit = exit_stack
        self._servers: list[GunicornProcess] = []

    def launch(self, part: Part, sock: socket.socket) -> None:
        spec = f"wiflab_core.serving:app_from_env({part.factory!r}, {part.settings_type!r})"
        server = GunicornProcess(
            spec,
            workers=part.server.workers,
            env=part.settings.to_env(),
            extra_args=part.server.gunicorn_args(),
            sock=sock,
        )
        self._exit.callback(server.stop)
        server.launch()
        self._servers.append(server)

    def wait_ready(self) -> None:
        for server in self._servers:
            server.wait_ready()


def launcher(mode: str, exit_stack: ExitStack) -> Launcher:
    return ThreadsLauncher(exit_stack) if mode == "threads" else GunicornLauncher(exit_stack)
