"""What keeps the proxy from adding waits of its own: a client behind a proxy keeps Nagle's
algorithm (urllib3 turns TCP_NODELAY off for proxy connections), so its POST body waits for
the ACK of its head; the proxy sends that ACK at once instead of the kernel's delayed one."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import sys
import threading
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wiflab_lab.intercept import proxy as proxy_module
from wiflab_lab.intercept.ca import LocalCA
from wiflab_lab.intercept.proxy import InterceptProxy, ack_now
from wiflab_lab.intercept.routes import Routes


def test_urllib3_keeps_nagle_on_for_connections_to_a_proxy() -> None:
    """The client behaviour the proxy answers: urllib3's own words, read from its docs."""
    from urllib3.connection import HTTPConnection

    assert "unless the connection is behind a proxy" in (HTTPConnection.__doc__ or "")


def test_every_request_head_and_handshake_is_acknowledged_at_once(
    proxy: InterceptProxy, local_ca: LocalCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    acks: list[bool] = []

    def counted(writer: asyncio.StreamWriter) -> None:
        acks.append(writer.get_extra_info("ssl_object") is not None)
        ack_now(writer)

    monkeypatch.setattr(proxy_module, "ack_now", counted)
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": proxy.url}
    for i in range(3):
        answer = s.post(
            f"https://sts.googleapis.com/{i}",
            data="grant_type=x",
            verify=str(local_ca.cert_file),
            timeout=10,
        )
        assert answer.json()["body"] == "grant_type=x"
    # One connection: its handshake, then each of the three heads, all on the TLS socket.
    assert acks == [True] * 4


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TCP_QUICKACK is Linux's")
def test_ack_now_puts_the_socket_in_quickack_mode() -> None:
    async def main() -> int:
        got: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
            ack_now(writer)
            got.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK))
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n")
        value = await asyncio.wait_for(got, 10)
        writer.close()
        server.close()
        return value

    assert asyncio.run(main()) == 1


def test_ack_now_is_harmless_without_a_tcp_socket() -> None:
    class NoSocket:
        def get_extra_info(self, name: str) -> None:
            return None

    ack_now(NoSocket())  # type: ignore[arg-type]


# -- kept-alive connections to the parts --------------------------------------------------


class _PeerServer:
    """An HTTP/1.1 part on loopback that answers each request with the port of the connection
    it came on; with ``drop_second``, it closes a connection at its second request unanswered
    (a kept connection the part dropped while the proxy held it idle)."""

    def __init__(self, drop_second: bool = False) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.drop_second = drop_second
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn, peer[1]), daemon=True).start()

    def _serve(self, conn: socket.socket, peer_port: int) -> None:
        with conn, conn.makefile("rb") as stream:
            served = 0
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = stream.readline()
                    if not line:
                        return
                    head += line
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = stream.read(length)
                if self.drop_second and served == 1:
                    return
                text = body.decode(errors="replace")
                payload = json.dumps({"peer": peer_port, "body": text}).encode()
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n"
                    % len(payload)
                    + (b"" if head.startswith(b"HEAD ") else payload)
                )
                served += 1

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def peer_proxy(local_ca: LocalCA, request: pytest.FixtureRequest) -> Iterator[InterceptProxy]:
    part = _PeerServer(drop_second=getattr(request, "param", False))
    routes = Routes.build(f"http://127.0.0.1:{part.port}", {})
    with InterceptProxy(local_ca, routes) as running:
        running.part = part  # type: ignore[attr-defined]
        yield running
    part.close()


def _posts(proxy: InterceptProxy, local_ca: LocalCA, n: int) -> list[dict[str, object]]:
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": proxy.url}
    return [
        s.post(
            "https://sts.googleapis.com/v1/token",
            data=f"n={i}",
            verify=str(local_ca.cert_file),
            timeout=10,
        ).json()
        for i in range(n)
    ]


def test_requests_reach_the_part_on_one_kept_alive_connection(
    peer_proxy: InterceptProxy, local_ca: LocalCA
) -> None:
    answers = _posts(peer_proxy, local_ca, 4)
    assert [a["body"] for a in answers] == ["n=0", "n=1", "n=2", "n=3"]
    assert len({a["peer"] for a in answers}) == 1
    assert peer_proxy.part.connections == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("peer_proxy", [True], indirect=True)
def test_a_kept_connection_the_part_dropped_is_retried_on_a_new_one(
    peer_proxy: InterceptProxy, local_ca: LocalCA
) -> None:
    answers = _posts(peer_proxy, local_ca, 3)
    # Every request answered, its body whole, though the part dropped each kept connection.
    assert [a["body"] for a in answers] == ["n=0", "n=1", "n=2"]
    assert len({a["peer"] for a in answers}) == 3


def _terminated(proxy: InterceptProxy, local_ca: LocalCA) -> ssl.SSLSocket:
    port = int(proxy.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"CONNECT sts.googleapis.com:443 HTTP/1.1\r\n\r\n")
    assert sock.recv(1024).startswith(b"HTTP/1.1 200")
    context = ssl.create_default_context(cafile=str(local_ca.cert_file))
    return context.wrap_socket(sock, server_hostname="sts.googleapis.com")


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "HEAD"]),
    version=st.sampled_from(["HTTP/1.1", "HTTP/1.0"]),
    claimed=st.integers(0, 64),
    body=st.binary(max_size=64),
)
def test_any_body_short_or_long_is_answered_or_closed_never_an_error(
    peer_proxy: InterceptProxy,
    local_ca: LocalCA,
    caplog: pytest.LogCaptureFixture,
    method: str,
    version: str,
    claimed: int,
    body: bytes,
) -> None:
    caplog.clear()
    with _terminated(peer_proxy, local_ca) as tls:
        tls.sendall(
            f"{method} /v1/token {version}\r\nHost: sts.googleapis.com\r\n"
            f"Content-Length: {claimed}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        if len(body) < claimed:
            tls.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := tls.recv(65536):
                chunks.append(chunk)
        except (ConnectionError, ssl.SSLError):
            pass
    answer = b"".join(chunks)
    if len(body) >= claimed:
        assert answer.startswith(b"HTTP/1.1 200"), answer[:80]
    else:  # the proxy closes (what arrives after our shutdown is TLS records, not an answer)
        assert b"HTTP/1.1 200" not in answer
    assert "unexpected error" not in caplog.text
