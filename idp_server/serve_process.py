"""``python -m idp_server`` as a child process on loopback: the production serve path (the
image's entry point), for the benchmark, the tests and anything else that wants the IdP as its
own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping

from wiflab_core.serving import wait_ready

_LISTENING = "wiflab idp: listening on "


class ServeProcess:
    def __init__(self, *args: str, env: Mapping[str, str] | None = None):
        self._cmd = [sys.executable, "-m", "idp_server", "--port", "0", *args]
        self._env = {**os.environ, **(env or {})}
        # Append mode (O_APPEND): the child writes at the end even while output() reads.
        self._stderr = tempfile.TemporaryFile(mode="a+", encoding="utf-8")  # noqa: SIM115
        self._stdout: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 20.0) -> ServeProcess:
        self.process = subprocess.Popen(
            self._cmd,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        assert self.process.stdout is not None
        while not self.url:
            line = self.process.stdout.readline()
            if not line:
                self.process.wait()
                raise RuntimeError(f"python -m idp_server exited before listening:\n{self.output}")
            self._stdout.append(line)
            if line.startswith(_LISTENING):
                self.url = line[len(_LISTENING) :].split()[0]
        wait_ready(self.url + "/healthz", timeout, self.process)  # type: ignore[arg-type]
        return self

    def stop(self, timeout: float = 10.0) -> str:
        """Stop the server (SIGTERM, as a platform would) and return everything it printed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                rest, _ = self.process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                rest, _ = self.process.communicate()
            self._stdout.append(rest or "")
        return self.output

    @property
    def output(self) -> str:
        self._stderr.seek(0)
        return "".join(self._stdout) + self._stderr.read()

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._stderr.close()
