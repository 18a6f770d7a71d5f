"""The intercepting proxy: an HTTP proxy on loopback that clients reach through
``HTTPS_PROXY`` / ``HTTP_PROXY``.

- ``CONNECT host:443`` to one of Google's hosts wiflab serves (``Routes.tls_host``): answered
  200, then the TLS is terminated here with a leaf of the local CA for that host, and the
  decrypted bytes are piped to the part that serves it (chosen by host and ALPN: ``h2`` to
  iamcredentials goes to the gRPC server, which speaks h2c). Nothing is parsed after the
  handshake, so HTTP/1.1 keep-alive and HTTP/2 pass through as they are.
- ``CONNECT`` to anything else: a plain tunnel to it, untouched.
- Absolute-form plain HTTP (``GET http://metadata.google.internal/...``): the metadata hosts go
  to Google's side, any other host to itself; one request per connection (``Connection: close``).

A small asyncio server rather than mitmproxy (see the README's intercept section): bytes are
piped, never re-encoded, so an h2 client meets the h2c gRPC server directly, and it costs no
dependency. It listens on loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from idp_server.settings import is_loopback
from wiflab_core.serving import LOOPBACK
from wiflab_lab.intercept.ca import LocalCA, NotPermitted
from wiflab_lab.intercept.routes import METADATA_HOSTS, Routes, Upstream

log = logging.getLogger("wiflab.intercept")

MAX_HEAD = 64 * 1024
HEAD_TIMEOUT = 30.0
CONNECT_TIMEOUT = 10.0
HANDSHAKE_TIMEOUT = 10.0
CHUNK = 64 * 1024
# The hop-by-hop headers a proxy does not pass on (RFC 9110 7.6.1), and its own.
HOP_BY_HOP = frozenset(
    {"connection", "proxy-connection", "keep-alive", "proxy-authorization", "te", "upgrade"}
)
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VERSION = re.compile(r"^HTTP/1\.[01]$")


class BadRequest(ValueError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Head:
    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]


def parse_head(raw: bytes) -> Head:
    """The request line and headers of a proxy request; BadRequest names what is wrong."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise BadRequest("the request head must be ASCII") from None
    lines = text.split("\r\n")
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise BadRequest("empty request")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise BadRequest("request line must be METHOD TARGET HTTP/1.1")
    method, target, version = parts
    if not _TOKEN.match(method):
        raise BadRequest("request line: the method is not a token")
    if not _VERSION.match(version):
        raise BadRequest("request line: the version must be HTTP/1.0 or HTTP/1.1")
    if not target or any(c in target for c in "\x00\t") or not target.isprintable():
        raise BadRequest("request line: bad request target")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name):
            raise BadRequest(f"header line {line[:40]!r} is not NAME: VALUE")
        if not value.strip().isprintable() and value.strip():
            raise BadRequest(f"header {name}: control characters in the value")
        headers.append((name, value.strip()))
    return Head(method.upper(), target, version, tuple(headers))


def parse_authority(target: str) -> tuple[str, int]:
    """``host:port`` of a CONNECT (``[v6]:port`` too); BadRequest otherwise."""
    host, sep, port_text = target.rpartition(":")
    if not sep or not host or not port_text.isdigit() or len(port_text) > 5:
        raise BadRequest("CONNECT target must be host:port")
    port = int(port_text)
    if not 0 < port < 65536:
        raise BadRequest("CONNECT target: the port must be 1-65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise BadRequest("CONNECT target: bad IPv6 address") from None
    elif not re.match(r"^[A-Za-z0-9._-]+$", host) or len(host) > 253:
        raise BadRequest("CONNECT target: bad host name")
    return host, port


def origin_request(head: Head) -> tuple[str, int, bytes]:
    """An absolute-form request as the origin server gets it: (host, port, head bytes)."""
    parts = urlsplit(head.target)
    if parts.scheme != "http" or not parts.hostname:
        raise BadRequest("request target must be an absolute http:// URL (or use CONNECT)")
    try:
        port = parts.port or 80
    except ValueError:
        raise BadRequest("request target: bad port") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{head.method} {path} {head.version}"]
    has_host = False
    for name, value in head.headers:
        lowered = name.lower()
        if lowered in HOP_BY_HOP:
            continue
        has_host = has_host or lowered == "host"
        lines.append(f"{name}: {value}")
    if not has_host:
        lines.append(f"Host: {parts.netloc}")
    lines.append("Connection: close")
    return parts.hostname, port, ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def _status(code: int, message: str) -> bytes:
    reason = {400: "Bad Request", 431: "Request Header Fields Too Large", 502: "Bad Gateway"}
    body = (message + "\n").encode()
    return (
        f"HTTP/1.1 {code} {reason.get(code, 'Error')}\r\nContent-Type: text/plain; charset=utf-8"
        f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, eof: bool) -> None:
    while data := await reader.read(CHUNK):
        writer.write(data)
        await writer.drain()
    if eof and writer.can_write_eof():
        writer.write_eof()


async def _splice(
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    """Bytes both ways until the upstream is done (a client's EOF is passed on as EOF)."""
    up = asyncio.ensure_future(_pipe(client[0], upstream[1], eof=True))
    down = asyncio.ensure_future(_pipe(upstream[0], client[1], eof=False))
    try:
        done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        if up in done and up.exception() is None and not down.done():
            await down
    except (ConnectionError, OSError):
        pass
    finally:
        for task in (up, down):
            task.cancel()
        for task in (up, down):
            with contextlib.suppress(BaseException):
                await task
        upstream[1].close()


class InterceptProxy:
    """The proxy, served by an asyncio loop in a thread of its own: ``start()`` -> its URL."""

    def __init__(self, ca: LocalCA, routes: Routes, host: str = LOOPBACK, port: int = 0):
        if not is_loopback(host):
            raise ValueError(f"the intercepting proxy listens on loopback only, not {host}")
        self.ca = ca
        self.routes = routes
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.url = ""

    def start(self) -> str:
        self._thread = threading.Thread(target=self._run, name="wiflab-intercept", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self.url

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._shutdown)
        thread.join(timeout=10)
        self._loop = self._thread = None

    def __enter__(self) -> InterceptProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop's thread ------------------------------------------------------------------

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, self._host, self._port, limit=MAX_HEAD)
            )
            sockname = self._server.sockets[0].getsockname()
            host = f"[{sockname[0]}]" if ":" in sockname[0] else sockname[0]
            self.url = f"http://{host}:{sockname[1]}"
        except BaseException as exc:  # a port in use: start() raises it
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def _shutdown(self) -> None:
        assert self._loop is not None
        if self._server is not None:
            self._server.close()
        self._loop.stop()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
                head = parse_head(raw)
            except asyncio.LimitOverrunError:
                raise BadRequest(f"request head over {MAX_HEAD} bytes", 431) from None
            except (asyncio.IncompleteReadError, TimeoutError):
                return
            if head.method == "CONNECT":
                await self._connect(head, reader, writer)
            else:
                await self._forward(head, reader, writer)
        except BadRequest as exc:
            with contextlib.suppress(ConnectionError, OSError):
                writer.write(_status(exc.status, f"wiflab intercept proxy: {exc}"))
                await writer.drain()
        except (ConnectionError, OSError, TimeoutError):
            pass
        except asyncio.CancelledError:
            pass  # the proxy is stopping (a cancelled stream task would be logged as an error)
        except Exception:
            log.exception("intercept proxy: unexpected error")
        finally:
            writer.close()

    async def _open(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise BadRequest(f"cannot reach {host}:{port} ({exc or 'timed out'})", 502) from None

    async def _connect(
        self, head: Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, port = parse_authority(head.target)
        if port == 443 and self.routes.tls_host(host):
            await self._terminate(host, reader, writer)
            return
        upstream = await self._open(host, port)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await _splice((reader, writer), upstream)

    async def _terminate(
        self, host: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        offered: Sequence[str] = self.routes.alpn(host)
        try:
            leaf = self.ca.leaf(host, offered)
        except NotPermitted as exc:
            raise BadRequest(str(exc), 502) from None
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await writer.start_tls(leaf.context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
        ssl_object = writer.get_extra_info("ssl_object")
        selected = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        target = self.routes.upstream(host, selected)
        if target is None:
            return
        try:
            upstream = await self._open(target.host, target.port)
        except BadRequest as exc:
            if selected != "h2":
                writer.write(_status(502, f"wiflab intercept proxy: {host}: {exc}"))
                await writer.drain()
            return
        await _splice((reader, writer), upstream)

    async def _forward(
        self, head: Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, port, request = origin_request(head)
        target = Upstream(host, port)
        if host.lower() in METADATA_HOSTS and port == 80:
            target = self.routes.google
        upstream = await self._open(target.host, target.port)
        upstream[1].write(request)
        await upstream[1].drain()
        await _splice((reader, writer), upstream)
