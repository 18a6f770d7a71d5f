"""Item 6 of issue 12: 50 slow clients (headers never finished) per part do not starve it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from wiflab_lab.stack import Stack, StackOptions

TOPOLOGY = Path(__file__).resolve().parents[2] / "wif.yaml"
SLOW_CLIENTS = 50


@pytest.fixture(scope="module", params=["threads", "processes"])
def stack(request, tmp_path_factory) -> Iterator[Stack]:
    options = StackOptions(TOPOLOGY, tmp_path_factory.mktemp("slow"), request.param, port_base=0)
    with Stack(options) as running:
        yield running


def slowloris(url: str, exit_stack: ExitStack) -> None:
    """SLOW_CLIENTS connections that each send half a request's headers and wait."""
    parts = urlsplit(url)
    for i in range(SLOW_CLIENTS):
        sock = exit_stack.enter_context(socket.create_connection((parts.hostname, parts.port)))
        sock.sendall(f"GET /healthz?slow={i} HTTP/1.1\r\nHost: {parts.netloc}\r\nX-A: ".encode())


def test_every_part_answers_while_50_slow_clients_hold_it(stack: Stack) -> None:
    urls = stack.part_urls
    assert set(urls) >= {"idp", "google", "run:federated-auth-cloud-run"}
    for name, url in urls.items():
        with ExitStack() as slow:
            slowloris(url, slow)
            # A normal request still answers (the timeout bounds the wait; no timing asserted).
            response = requests.get(f"{url}/healthz", timeout=20)
            assert response.status_code < 500, (name, response.status_code, response.text)
