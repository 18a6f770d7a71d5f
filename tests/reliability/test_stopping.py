"""Item 9 of issue 12: SIGTERM lets the requests in flight finish (bounded), in both modes."""

from __future__ import annotations

import json
import signal
import socket
import time
from urllib.parse import urlsplit

import jwt
import pytest

from tests.wiflab_stack.test_up import refuses_connections, start_up


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def read_response(sock: socket.socket) -> bytes:
    """One whole response (after any 100 Continue), as far as its Content-Length says."""
    data = b""
    while True:
        data = data.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n")
        head, _, body = data.partition(b"\r\n\r\n")
        if _ and not head.startswith(b"HTTP/1.1 100"):
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            if len(body) >= length:
                return data
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_sigterm_finishes_a_request_in_flight(tmp_path, mode):
    process, endpoints = start_up(tmp_path, "--mode", mode)
    idp = endpoints.require_idp().issuer
    google = endpoints.sts.token_url
    parts = urlsplit(idp)
    body = json.dumps({"sub": "in-flight", "aud": "a"}).encode()
    signalled = False
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=20) as client:
            client.sendall(
                b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Expect: 100-continue\r\n" + f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            # The IdP has read the headers and waits for the body: the request is in flight.
            assert b"100 Continue" in read_until(client, b"\r\n\r\n")
            process.send_signal(signal.SIGTERM)
            signalled = True

            # The stack stops its parts in reverse order, the IdP last: stopping has reached it
            # once Google's side takes no new connection (and, in threads mode, the IdP
            # neither; under gunicorn the busy worker holds the socket until it answers).
            def stopping() -> bool:
                return refuses_connections(google) and (
                    mode == "processes" or refuses_connections(idp)
                )

            for _ in range(300):
                if stopping():
                    break
                time.sleep(0.05)
            assert stopping()
            client.sendall(body)
            response = read_response(client)
        head, token = response.split(b"\r\n\r\n", 1)
        assert head.split(b"\r\n", 1)[0] == b"HTTP/1.1 200 OK", response[:300]
        assert jwt.decode(token, options={"verify_signature": False})["sub"] == "in-flight"
    finally:
        if not signalled:
            process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
