"""Loopback servers of the tests' own, and a proxy routing Google's hosts to them."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wiflab_lab.intercept.ca import LocalCA
from wiflab_lab.intercept.proxy import InterceptProxy
from wiflab_lab.intercept.routes import Routes

RUN_HOST = "hello-abcdefghij-uc.a.run.app"


class Echo(BaseHTTPRequestHandler):
    """Answers who it is, and what it was asked: {"server", "path", "host", "body"}."""

    protocol_version = "HTTP/1.1"
    server_name_label = "echo"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        payload = json.dumps(
            {
                "server": self.server.label,  # type: ignore[attr-defined]
                "path": self.path,
                "host": self.headers.get("Host"),
                "body": body,
                "connection": self.headers.get("Connection"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


def serve(label: str, context: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    server.label = label  # type: ignore[attr-defined]
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def google() -> Iterator[ThreadingHTTPServer]:
    server = serve("google")
    yield server
    server.shutdown()


@pytest.fixture
def front_end() -> Iterator[ThreadingHTTPServer]:
    server = serve("run")
    yield server
    server.shutdown()


class RawUpstream:
    """A TCP server that records the first bytes each connection sends (an h2c stand-in)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.got = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    self.received.append(conn.recv(1024))
                except OSError:
                    self.received.append(b"")
                self.got.set()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def grpc_upstream() -> Iterator[RawUpstream]:
    upstream = RawUpstream()
    yield upstream
    upstream.close()


@pytest.fixture(scope="session")
def local_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA.load_or_create(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def proxy(
    local_ca: LocalCA,
    google: ThreadingHTTPServer,
    front_end: ThreadingHTTPServer,
    grpc_upstream: RawUpstream,
) -> Iterator[InterceptProxy]:
    routes = Routes.build(
        url(google), {f"https://{RUN_HOST}": url(front_end)}, f"127.0.0.1:{grpc_upstream.port}"
    )
    with InterceptProxy(local_ca, routes) as running:
        yield running


def self_signed(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 with a certificate of its own, and that certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test's own target")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "target.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file = directory / "target-key.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    key_file.unlink()
    return context, cert_file
