"""The front end streams request bodies to the app: it never holds a whole upload.

Before, ``request.get_data()`` read every body into memory first (12 held uploads kept
450 MB). The proof here needs no timing: the app receives the first bytes of a body while
the client still holds back the rest.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

import requests
from flask import Flask, request

from tests.mock_gcp_run.conftest import StartFrontEnd, service
from wiflab_core.serving import ThreadedServer


def test_the_app_reads_the_start_of_a_body_before_the_client_sends_the_rest(
    start_front_end: StartFrontEnd, running_servers: list[ThreadedServer]
) -> None:
    first_bytes = threading.Event()
    seen: dict[str, object] = {}
    app = Flask(__name__)

    @app.post("/upload")
    def upload() -> str:
        seen["start"] = request.stream.read(5)
        first_bytes.set()
        rest = request.stream.read()
        seen["length"] = request.headers.get("Content-Length")
        return f"{5 + len(rest)} bytes"

    upstream = ThreadedServer(app).start()
    running_servers.append(upstream)
    front = start_front_end(service(allow_unauthenticated=True), upstream=upstream.url)
    netloc = urlsplit(front.url).netloc
    host, port = netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(
            f"POST /upload HTTP/1.1\r\nHost: {netloc}\r\nContent-Length: 200000\r\n"
            "Connection: close\r\n\r\n".encode()
            + b"hello"
            + b"x" * 99_995
        )
        # Half the body is sent (more than the 64 KiB the front end reads at a time)...
        assert first_bytes.wait(15), "the app saw nothing until the whole body had arrived"
        sock.sendall(b"x" * 100_000)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert answer.endswith(b"200000 bytes")
    # The length goes upstream as the client sent it: no re-chunking.
    assert seen == {"start": b"hello", "length": "200000"}


def test_a_chunked_upload_arrives_whole(start_front_end: StartFrontEnd, echo) -> None:
    front = start_front_end(service(allow_unauthenticated=True), upstream=echo[1])
    response = requests.post(front.url + "/echo/u", data=iter([b"ab", b"cd" * 50_000]))
    assert response.status_code == 200, response.text[:300]
    assert response.json()["body"] == "ab" + "cd" * 50_000
