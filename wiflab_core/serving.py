"""Serve a WSGI app on loopback: in a thread (fast, for tests) or under gunicorn (as in production).

Both bind their socket before anything starts (or take one bound by the caller), so port 0
gives an ephemeral port with no race: gunicorn inherits the already-bound socket through
``fd://``. Under gunicorn, ``app_from_env`` builds an app from settings read from the
environment: the same factory a thread is given the settings object.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

LOOPBACK = "127.0.0.1"


# How long ``ThreadedServer.stop`` lets requests in flight finish: gunicorn's
# --graceful-timeout below, so both modes stop alike.
GRACEFUL_SECONDS = 5.0


class _InFlight:
    """Requests being answered, so that stopping can wait for them (bounded)."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def __enter__(self) -> None:
        with self._changed:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout)


class _QuietHandler(WSGIRequestHandler):
    """No per-request access log lines: tests and the demo print what matters themselves.
    Each request, from its parsed headers to its last byte written, counts as in flight."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def run_wsgi(self) -> None:
        in_flight: _InFlight | None = getattr(self.server, "in_flight", None)
        if in_flight is None:
            super().run_wsgi()
            return
        with in_flight:
            super().run_wsgi()


def bind_socket(host: str = LOOPBACK, port: int = 0) -> socket.socket:
    """A listening TCP socket on host (an IPv4 or IPv6 address, ``::1`` say, or a name)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ThreadedServer:
    """A WSGI app served by werkzeug's threaded server in a daemon thread.

    The app may be given after construction (``server.app = ...``, before ``start``):
    apps that must know their own URL (an issuer, say) are built once the port is bound.
    """

    def __init__(
        self,
        app: Any = None,
        host: str = LOOPBACK,
        port: int = 0,
        *,
        sock: socket.socket | None = None,
    ):
        sock = sock or bind_socket(host, port)
        self.url = url_of(sock)
        self.app = app
        self._server: BaseWSGIServer = make_server(
            sock.getsockname()[0],
            sock.getsockname()[1],
            self._dispatch,
            threaded=True,
            request_handler=_QuietHandler,
            fd=sock.fileno(),
        )
        self._sock = sock  # keep the fd alive as long as the server
        self._in_flight = _InFlight()
        self._server.in_flight = self._in_flight  # type: ignore[attr-defined]
        # A short poll interval: stop() waits up to one interval for the loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _dispatch(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)

    @property
    def serving(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> ThreadedServer:
        if self.app is None:
            raise RuntimeError("ThreadedServer.start() before its app was set")
        self._thread.start()
        return self

    def stop(self, graceful: float = GRACEFUL_SECONDS) -> bool:
        """Stop accepting, then let the requests in flight finish, for at most ``graceful``
        seconds (werkzeug's request threads are daemons: without this wait, a process that
        exits after stop() would cut them). True if none was left unfinished."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._sock.close()
        self._thread.join(timeout=5)
        return self._in_flight.wait_idle(graceful)

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class GunicornProcess:
    """``gunicorn APP`` in a child process, bound to a socket bound here first."""

    def __init__(
        self,
        app_spec: str,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        workers: int = 2,
        env: Mapping[str, str] | None = None,
        extra_args: list[str] | None = None,
        ready_path: str = "/healthz",
        sock: socket.socket | None = None,
    ):
        self._sock = sock or bind_socket(host, port)
        self.url = url_of(self._sock)
        self._ready_path = ready_path
        fd = self._sock.fileno()
        # `python -m gunicorn ...`, started through wiflab_core.die_with_parent (see launch).
        module_args = [
            "gunicorn",
            "--bind",
            f"fd://{fd}",
            "--workers",
            str(workers),
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
            # gunicorn's control socket is one per user: parallel servers would fight over it.
            "--no-control-socket",
            *(extra_args or []),
            app_spec,
        ]
        self._module_args = module_args
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> GunicornProcess:
        """Start the child without waiting: several servers can then boot side by side.

        The child leads a process group of its own (its workers join it, so ``stop`` can
        reap workers a killed master left behind) and gets SIGTERM when the thread that
        launched it dies (PR_SET_PDEATHSIG: a ``kill -9`` of this process stops the child).
        This process then closes its copy of the listening socket: once the child is gone
        the port refuses connections instead of queueing them for nobody.
        """
        guard = [sys.executable, "-m", "wiflab_core.die_with_parent", str(os.getpid())]
        self.process = subprocess.Popen(
            [*guard, *self._module_args],
            env=self.env,
            pass_fds=[self._sock.fileno()],
            stdin=subprocess.DEVNULL,
            process_group=0,
        )
        self._sock.close()
        return self

    @property
    def exit_code(self) -> int | None:
        """None while the child runs (or before launch)."""
        return None if self.process is None else self.process.poll()

    def wait_ready(self, timeout: float = 15.0) -> GunicornProcess:
        wait_ready(self.url + self._ready_path, timeout, self.process)
        return self

    def start(self, timeout: float = 15.0) -> GunicornProcess:
        return self.launch().wait_ready(timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        code = None
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait()
        if self.process is not None:
            # Workers a killed master left behind still hold the port: end them too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self._sock.close()
        return code

    def __enter__(self) -> GunicornProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def import_string(name: str) -> Any:
    """``package.module:attribute`` -> the attribute."""
    module, _, attribute = name.partition(":")
    return getattr(import_module(module), attribute)


def app_from_env(factory: str, settings: str) -> Any:
    """gunicorn's entry for an app built from settings:
    ``wiflab_core.serving:app_from_env('pkg.app:create_app', 'pkg.settings:Settings')`` calls
    the factory with ``Settings.from_env(os.environ)``."""
    build: Callable[[Any], Any] = import_string(factory)
    return build(import_string(settings).from_env(os.environ))


def wait_ready(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll url until it answers below 500; fail early if the process died.

    Any such answer means the app is built and serving: a private Cloud Run front end
    answers 403 to a probe without a token, and that is ready too.
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before ready")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready after {timeout}s")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
