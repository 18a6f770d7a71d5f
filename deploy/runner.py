"""Run a plan: each command as a subprocess, each check as its probe then what it picks.

Every command is shown before it runs, as the dry run shows it: captured values stay
``${NAME}``, so a secret never reaches the terminal (nor argv: secrets go in the environment).
Probes run quietly; their answers pick the next commands (``deploy.steps.Check``).
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from deploy.errors import DeployError
from deploy.shell import command_line, render_step
from deploy.steps import PYTHON_MODULE, Check, Command, Generated, Note, Plan, Section, WriteFile
from wiflab_core.keys import generate

_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
PROBE_TIMEOUT = 120.0
# A Cloud Build of an image or a first Cloud Run deploy takes minutes; none takes this long.
COMMAND_TIMEOUT = 1800.0
# IAM is eventually consistent: an account or a grant made seconds ago may not be seen yet
# (usually within a minute).
RETRY_DELAYS = (2.0, 4.0, 8.0, 16.0, 32.0)

MAKERS: Mapping[str, Callable[[], bytes]] = {
    "rsa-private-key": lambda: generate("RS256").private_pem().encode("ascii"),
    "token-secret": lambda: secrets.token_hex(32).encode("ascii"),
}


class Runner:
    def __init__(
        self,
        *,
        cwd: Path,
        out: TextIO = sys.stdout,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._cwd = cwd
        self._out = out
        self._retry_delays = retry_delays
        self._sleep = sleep
        self.values: dict[str, str] = {}

    def run(self, plan: Plan) -> None:
        self._say(f"# {plan.title}")
        for step in plan.steps:
            if isinstance(step, Section | Note):
                for line in render_step(step):
                    self._say(line)
            elif isinstance(step, Command):
                self._command(step)
            elif isinstance(step, Check):
                self._check(step)
            elif isinstance(step, WriteFile):
                self._say(f"+ write {step.path}")
                path = self._cwd / step.path
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(step.content, encoding="utf-8")

    def _check(self, check: Check) -> None:
        self._say(f"? {command_line(check.probe)}")
        result = self._execute(check.probe, PROBE_TIMEOUT, quiet=True)
        answer = result.stdout.strip() if result.returncode == 0 else ""
        commands = _pick(check, answer)
        self._say(f"  = {answer or '(absent)'}" + ("" if commands else ": nothing to do"))
        for command in commands:
            self._command(command)

    def _command(self, command: Command) -> None:
        self._say(f"+ {command_line(command)}")
        for delay in (*self._retry_delays, None):
            result = self._execute(command, COMMAND_TIMEOUT, quiet=command.capture is not None)
            if result.returncode == 0:
                break
            if not command.retry or delay is None:
                detail = (result.stderr or "").strip()[-2000:] or "(its output is above)"
                raise DeployError(
                    f"this command failed (exit {result.returncode}):\n  {command_line(command)}"
                    f"\n{detail}"
                )
            self._say(f"  failed (exit {result.returncode}); IAM may lag: again in {delay:g} s")
            self._sleep(delay)
        if command.capture:
            self.values[command.capture] = result.stdout.strip()
            if not command.secret:
                self._say(f"  = {self.values[command.capture]}")

    def _execute(
        self, command: Command, timeout: float, quiet: bool
    ) -> subprocess.CompletedProcess[str]:
        argv = [self._substitute(arg) for arg in command.argv]
        if argv[0] == "wiflab":  # this wiflab, whether or not its venv is on PATH
            argv = [sys.executable, "-m", "wiflab.cli", *argv[1:]]
        env = {**os.environ, **{k: self._substitute(v) for k, v in command.env.items()}}
        stdin = _made(command.stdin) if command.stdin else None
        try:
            return subprocess.run(
                argv,
                cwd=self._cwd,
                env=env,
                input=stdin,
                # Captures and probes are read here; other commands show their progress.
                stdout=subprocess.PIPE if quiet else None,
                stderr=subprocess.PIPE if quiet else None,
                text=True,
                timeout=timeout,
                check=False,
                stdin=None if stdin is not None else subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise DeployError(
                f"{argv[0]} is not installed (or not on PATH): install the Google Cloud CLI, "
                "https://cloud.google.com/sdk/docs/install"
            ) from None
        except subprocess.TimeoutExpired:
            raise DeployError(
                f"gave up after {timeout:g} s waiting for:\n  {command_line(command)}"
            ) from None

    def _substitute(self, arg: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match[1]
            if name not in self.values:
                raise DeployError(f"${{{name}}} is used before any command captured it")
            return self.values[name]

        return _VARIABLE.sub(value, arg)

    def _say(self, line: str) -> None:
        print(line, file=self._out, flush=True)


def _made(generated: Generated) -> str:
    """What the dry run pipes in, made here (never shown)."""
    maker = MAKERS.get(generated.kind)
    if maker is not None:
        return maker().decode("ascii")
    if generated.kind != PYTHON_MODULE:
        raise DeployError(f"nothing makes {generated.kind!r} data")
    argv = [sys.executable, *shlex.split(generated.shell)[1:]]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False)
    if done.returncode != 0:
        raise DeployError(f"{generated.shell} failed: {done.stderr.strip()[:500]}")
    return done.stdout


def _pick(check: Check, answer: str) -> tuple[Command, ...]:
    """The first case whose glob matches, as a shell ``case`` picks; ``""`` only matches ``""``."""
    for pattern, commands in check.cases:
        if _matches(pattern, answer):
            return commands
    return check.otherwise


def _matches(pattern: str, answer: str) -> bool:
    if pattern == "" or "*" not in pattern:
        return answer == pattern
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, answer, re.DOTALL) is not None
