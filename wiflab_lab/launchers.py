"""Start a part (``wiflab_lab.parts``) in a thread of this process or under gunicorn.

Both take the part's already-bound socket, launch without waiting, and wait for all parts
afterwards: start-up costs one boot, not one per part.
"""

from __future__ import annotations

import signal
import socket
from contextlib import ExitStack
from typing import Protocol

from mock_gcp.iamcredentials import grpc_worker
from mock_gcp.iamcredentials.grpc import GrpcServer
from wiflab_core.serving import GunicornProcess, ThreadedServer, import_string
from wiflab_lab.parts import Part


class Launcher(Protocol):
    def launch(self, part: Part, sock: socket.socket) -> None: ...

    def wait_ready(self) -> None: ...

    def dead(self) -> list[str]:
        """The parts that stopped serving by themselves, each named with how it ended."""
        ...


class ThreadsLauncher:
    """Each part in werkzeug's threaded server here: the factory gets the settings object."""

    def __init__(self, exit_stack: ExitStack):
        self._exit = exit_stack
        self._servers: list[tuple[str, ThreadedServer]] = []

    def launch(self, part: Part, sock: socket.socket) -> None:
        app = import_string(part.factory)(part.settings, **part.shared)
        server = self._exit.enter_context(ThreadedServer(app, sock=sock))
        self._servers.append((part.name, server))
        if part.grpc_address is not None:
            # Its own threads beside the HTTP server's, on the part's backend.
            self._exit.enter_context(GrpcServer(part.shared["backend"], part.grpc_address))

    def wait_ready(self) -> None:
        """A thread serves as soon as it starts."""

    def dead(self) -> list[str]:
        return [f"{name} (its server thread ended)" for name, s in self._servers if not s.serving]


class GunicornLauncher:
    """Each part under gunicorn in a child process, built there from ``to_env()``."""

    def __init__(self, exit_stack: ExitStack):
        self._exit = exit_stack
        self._servers: list[tuple[str, GunicornProcess]] = []

    def launch(self, part: Part, sock: socket.socket) -> None:
        spec = f"wiflab_core.serving:app_from_env({part.factory!r}, {part.settings_type!r})"
        env, extra_args = part.settings.to_env(), part.server.gunicorn_args()
        if part.grpc_address is not None:
            # The worker serves gRPC too (its post_worker_init hook), on its own backend.
            env[grpc_worker.ADDRESS_VARIABLE] = part.grpc_address
            extra_args += ["--config", f"python:{grpc_worker.__name__}"]
        server = GunicornProcess(
            spec,
            workers=part.server.workers,
            env=env,
            extra_args=extra_args,
            sock=sock,
        )
        self._exit.callback(server.stop)
        server.launch()
        self._servers.append((part.name, server))

    def wait_ready(self) -> None:
        for _, server in self._servers:
            server.wait_ready()

    def dead(self) -> list[str]:
        return [
            f"{name} ({_ended(code)})"
            for name, server in self._servers
            if (code := server.exit_code) is not None
        ]


def _ended(code: int) -> str:
    if code < 0:
        try:
            return f"gunicorn killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"gunicorn killed by signal {-code}"
    return f"gunicorn exited with code {code}"


def launcher(mode: str, exit_stack: ExitStack) -> Launcher:
    return ThreadsLauncher(exit_stack) if mode == "threads" else GunicornLauncher(exit_stack)
