"""A running local stack (threads mode, ephemeral ports) whose lab IdP mints the tokens that
``wiflab explain`` is asked about, and the command line run in this process."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from wiflab.cli import main
from wiflab_lab.testing import WifStack, example_topology, local_stack


@dataclass(frozen=True)
class Ran:
    status: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.out.splitlines()]


def explain(*args: str) -> Ran:
    """``wiflab explain ARGS`` in this process: its exit status and what it printed."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(["explain", *args])
    return Ran(status, out.getvalue(), err.getvalue())


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WifStack]:
    state = tmp_path_factory.mktemp("explain-stack")
    with local_stack(example_topology(), state) as running:
        yield running


@pytest.fixture(scope="package")
def endpoints_file(stack: WifStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stack's endpoints.json, as `wiflab up` writes it."""
    path = tmp_path_factory.mktemp("explain-endpoints") / "endpoints.json"
    return stack.endpoints.write(path)
