"""What keeps the proxy from adding waits of its own: a client behind a proxy keeps Nagle's
algorithm (urllib3 turns TCP_NODELAY off for proxy connections), so its POST body waits for
the ACK of its head; the proxy sends that ACK at once instead of the kernel's delayed one."""

from __future__ import annotations

import asyncio
import socket
import sys

import pytest
import requests

from wiflab_lab.intercept import proxy as proxy_module
from wiflab_lab.intercept.ca import LocalCA
from wiflab_lab.intercept.proxy import InterceptProxy, ack_now


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
