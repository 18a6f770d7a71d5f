"""Fixtures every test package may use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wiflab_core.serving import ThreadedServer


@pytest.fixture(scope="session")
def running_servers() -> Iterator[list[ThreadedServer]]:
    """Servers that session-scoped fixtures start; all stopped when the session ends."""
    servers: list[ThreadedServer] = []
    yield servers
    for server in servers:
        server.stop()
