"""``wiflab demo`` as `make demo` runs it (a subprocess), and a running stack to point it at."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wiflab_lab.stack import Stack, StackOptions

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "wif.yaml"
# The console script `make demo` runs, next to this interpreter; else the same entry point.
_SCRIPT = Path(sys.executable).with_name("wiflab")
WIFLAB = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "wiflab.cli"]
# Generous: a run takes about a second; this only stops a hung run from hanging the suite.
RUN_LIMIT_SECONDS = 120


def demo_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "IDP_TOKEN_SECRET")}
    return env | extra


def run_demo(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``wiflab demo ARGS`` from the repository root, as ``make demo`` runs it."""
    return subprocess.run(
        [*WIFLAB, "demo", *args],
        cwd=REPO,
        env=demo_env(**env),
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT_SECONDS,
        check=False,
    )


@pytest.fixture(scope="module")
def alice_run() -> subprocess.CompletedProcess[str]:
    """The default demo, run once for the tests that read its output."""
    return run_demo()


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A local stack this test module started itself, on ephemeral ports."""
    state = tmp_path_factory.mktemp("stack")
    with Stack(StackOptions(TOPOLOGY, state, "threads", port_base=0)) as stack:
        yield stack
