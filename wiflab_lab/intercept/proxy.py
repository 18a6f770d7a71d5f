"""The intercepting proxy: an HTTP proxy on loopback that clients reach through
``HTTPS_PROXY`` / ``HTTP_PROXY``.

- ``CONNECT host:443`` to one of Google's hosts wiflab serves (``Routes.tls_host``): answered
  200, then the TLS is terminated here with a leaf of the local CA for that host, and the
  decrypted bytes are piped to the part that serves it (chosen by host and ALPN: ``h2`` to
  iamcredentials goes to the gRPC server, which speaks h2c). Nothing is parsed after the
  handshake, so HTTP/1.1 keep-alive and HTTP/2 pass through as they are.
- ``CONNECT`` to anything else: a plain tunnel to it, untouched.
- Absolute-form plain HTTP (``GET http://metadata.google.internal/...``): the metadata hosts go
  to Google's side (IMDS's paths on 169.254.169.254 to the local AWS IMDS: ``Routes.plain``),
  any other host to itself; one request per connection (``Connection: close``).

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
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from idp_server.settings import is_loopback
from wiflab_core.serving import LOOPBACK
from wiflab_lab.intercept.ca import LocalCA, NotPermitted
from wiflab_lab.intercept.routes import Routes, Upstream

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


_PIPES: set[asyncio.Future[None]] = set()


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
    # Held until both end, for the same reason as InterceptProxy._tasks.
    _PIPES.update((up, down))
    for task in (up, down):
        task.add_done_callback(_PIPES.discard)
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
            # Not BaseException: a coroutine closed at shutdown must let GeneratorExit through.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        upstream[1].close()


# -- ACKs at once: clients behind a proxy keep Nagle's algorithm ---------------------------
#
# urllib3 (requests, google-auth) turns TCP_NODELAY off for connections to a proxy, so a
# POST's body, written after its head, waits until the head is ACKed; and the proxy, with
# nothing to answer yet, delays that ACK (Linux: 40 ms). Every POST through the proxy paid
# those 40 ms (issue 14's 2.7x). TCP_QUICKACK sends the pending ACK now, so the proxy sets it
# whenever it has read a head or finished a handshake and waits for more from the client.
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only; elsewhere a no-op


def ack_now(writer: asyncio.StreamWriter) -> None:
    """Send the ACK the kernel is holding back for the client's last bytes, if any."""
    if _QUICKACK is None:
        return
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)


# -- HTTP/1.1 over a terminated connection: keep-alive towards the client ---------------------
#
# The parts may close after each answer (threads mode's servers speak HTTP/1.0), which would
# make a client pay a new CONNECT and TLS handshake (and its CA-bundle load) per request. So
# over a terminated HTTP/1.1 connection the proxy relays one request at a time and keeps the
# client's connection open whenever the answer's length is known (Content-Length or chunked).
# Towards the parts it keeps connections alive too, in a small pool per part: a new loopback
# connection per request cost the proxy a third of its time under the chain.

IDLE_SECONDS = 60.0
# Idle kept-alive connections to each part (a client's request takes one, gives it back).
POOL_SIZE = 8
# Bodies up to this size are read whole and sent with their head in one write on a kept
# connection (so a request is retried on a new one when the part had closed the kept one).
POOLED_BODY = 1 << 20
NO_BODY_STATUSES = frozenset({204, 304})


def _framing(headers: Sequence[tuple[str, str]], what: str) -> tuple[int | None, bool]:
    """(Content-Length, chunked) of a message; BadRequest for lengths that cannot be."""
    lengths = {v for n, v in headers if n.lower() == "content-length"}
    chunked = any(n.lower() == "transfer-encoding" and "chunked" in v.lower() for n, v in headers)
    if chunked:
        return None, True
    if not lengths:
        return None, False
    if len(lengths) != 1 or not next(iter(lengths)).isdigit():
        raise BadRequest(f"{what}: Content-Length must be one number")
    return int(next(iter(lengths))), False


def _wants_close(version: str, headers: Sequence[tuple[str, str]]) -> bool:
    connection = ",".join(v.lower() for n, v in headers if n.lower() == "connection")
    return "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)


def _head_bytes(first: str, headers: Sequence[tuple[str, str]], connection: str) -> bytes:
    lines = [first]
    lines += [f"{n}: {v}" for n, v in headers if n.lower() not in HOP_BY_HOP]
    lines.append(f"Connection: {connection}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _response_head(raw: bytes) -> tuple[str, int, list[tuple[str, str]]]:
    lines = raw.decode("latin-1").split("\r\n")
    first = lines[0]
    parts = first.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise BadRequest(f"the part answered {first[:40]!r}", 502)
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return first, int(parts[1]), headers


async def _final_answer(reader: asyncio.StreamReader) -> tuple[str, int, list[tuple[str, str]]]:
    """The part's answer head, past any interim (1xx) ones."""
    while True:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            raise BadRequest("the part closed without answering", 502) from None
        first, status, headers = _response_head(raw)
        if status >= 200:
            return first, status, headers


async def _copy_exactly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
    while n > 0:
        data = await reader.read(min(n, CHUNK))
        if not data:
            raise ConnectionResetError("the message ended early")
        writer.write(data)
        n -= len(data)
        await writer.drain()


async def _copy_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        line = await reader.readuntil(b"\r\n")
        writer.write(line)
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadRequest("bad chunk size") from None
        if size == 0:
            while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                writer.write(trailer)
            writer.write(b"\r\n")
            await writer.drain()
            return
        await _copy_exactly(reader, writer, size + 2)


async def _copy_body(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, length: int | None, chunked: bool
) -> None:
    if chunked:
        await _copy_chunked(reader, writer)
    elif length:
        await _copy_exactly(reader, writer, length)


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
        # Strong references to the connections' tasks: Python 3.11's stream protocol drops its
        # own when the client goes, and a pending task nothing refers to is garbage-collected
        # mid-flight ("Task was destroyed but it is pending").
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""
        # TLS connections terminated so far (a client that keeps its connection makes one).
        self.terminated = 0
        # Requests sent on a kept-alive connection to a part (the rest each opened one).
        self.reused = 0
        self._idle: dict[Upstream, list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}

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
        for idle in self._idle.values():
            for _, up_writer in idle:
                up_writer.close()
        self._idle.clear()
        self._loop.stop()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
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
        self.terminated += 1
        ack_now(writer)
        ssl_object = writer.get_extra_info("ssl_object")
        selected = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        target = self.routes.upstream(host, selected)
        if target is None:
            return
        if selected == "h2":
            try:
                upstream = await self._open(target.host, target.port)
            except BadRequest:
                return
            await _splice((reader, writer), upstream)
            return
        try:
            await self._relay(target, reader, writer)
        except BadRequest as exc:
            writer.write(_status(exc.status, f"wiflab intercept proxy: {host}: {exc}"))
            await writer.drain()

    async def _relay(
        self, target: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """HTTP/1.1 requests from the client, one at a time, each to a kept-alive connection
        to the part (see ``_exchange``); the client's connection stays open while every
        answer has a known length."""
        while True:
            try:
                raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_SECONDS)
            except asyncio.LimitOverrunError:
                raise BadRequest(f"request head over {MAX_HEAD} bytes", 431) from None
            except (asyncio.IncompleteReadError, TimeoutError):
                return
            ack_now(writer)
            head = parse_head(raw)
            length, chunked = _framing(head.headers, "request")
            close = _wants_close(head.version, head.headers)
            first = f"{head.method} {head.target} {head.version}"
            # Expect: 100-continue is answered here (the body is read before the part
            # sees the request), so the part never sends an interim answer for it.
            expects = [(n, v) for n, v in head.headers if n.lower() == "expect"]
            if any(v.lower() == "100-continue" for _, v in expects):
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await writer.drain()
            forwarded = [(n, v) for n, v in head.headers if n.lower() != "expect"]
            pooled = head.version == "HTTP/1.1" and not chunked and (length or 0) <= POOLED_BODY
            if pooled:
                try:
                    body = await reader.readexactly(length) if length else b""
                except asyncio.IncompleteReadError:
                    return  # the client went before its body was whole
                request = _head_bytes(first, forwarded, "keep-alive") + body
                (up_reader, up_writer), (status_line, status, headers) = await self._exchange(
                    target, request
                )
            else:  # a body streamed as it comes: a connection of its own
                up_reader, up_writer = await self._open(target.host, target.port)
                up_writer.write(_head_bytes(first, forwarded, "close"))
                try:
                    await _copy_body(reader, up_writer, length, chunked)
                    await up_writer.drain()
                    status_line, status, headers = await _final_answer(up_reader)
                except BaseException:
                    up_writer.close()
                    raise
            reusable = False
            try:
                bodiless = head.method == "HEAD" or status in NO_BODY_STATUSES
                out_length, out_chunked = _framing(headers, "answer")
                known = bodiless or out_chunked or out_length is not None
                keep = known and not close
                writer.write(_head_bytes(status_line, headers, "keep-alive" if keep else "close"))
                if bodiless:
                    pass
                elif out_chunked or out_length is not None:
                    await _copy_body(up_reader, writer, out_length, out_chunked)
                else:  # delimited by the part closing
                    while data := await up_reader.read(CHUNK):
                        writer.write(data)
                        await writer.drain()
                await writer.drain()
                version = status_line.split(" ", 1)[0]
                reusable = pooled and known and not _wants_close(version, headers)
            finally:
                if reusable:
                    self._checkin(target, (up_reader, up_writer))
                else:
                    up_writer.close()
            if not keep:
                return

    async def _exchange(
        self, target: Upstream, request: bytes
    ) -> tuple[
        tuple[asyncio.StreamReader, asyncio.StreamWriter], tuple[str, int, list[tuple[str, str]]]
    ]:
        """Send a whole request (head and body in one write) on an idle connection to the
        part, or a new one, and read its answer's head. A kept connection the part closed
        meanwhile (gunicorn drops idle ones after 2 s) is retried once on a new one, as
        urllib3 does: the part had answered nothing on it."""
        while True:
            connection, reused = await self._checkout(target)
            up_reader, up_writer = connection
            try:
                up_writer.write(request)
                await up_writer.drain()
                return connection, await _final_answer(up_reader)
            except (BadRequest, ConnectionError, OSError):
                up_writer.close()
                if not reused:
                    raise
            except BaseException:
                up_writer.close()
                raise

    async def _checkout(
        self, target: Upstream
    ) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter], bool]:
        """(an idle connection to ``target``, True), or (a new one, False)."""
        idle = self._idle.get(target, [])
        while idle:
            up_reader, up_writer = idle.pop()
            if up_reader.at_eof() or up_writer.is_closing():
                up_writer.close()
                continue
            self.reused += 1
            return (up_reader, up_writer), True
        return await self._open(target.host, target.port), False

    def _checkin(
        self, target: Upstream, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter]
    ) -> None:
        idle = self._idle.setdefault(target, [])
        if len(idle) < POOL_SIZE and self._server is not None and self._server.is_serving():
            idle.append(connection)
        else:
            connection[1].close()

    async def _forward(
        self, head: Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, port, request = origin_request(head)
        path = urlsplit(head.target).path or "/"
        target = self.routes.plain(host, port, path) or Upstream(host, port)
        upstream = await self._open(target.host, target.port)
        upstream[1].write(request)
        await upstream[1].drain()
        await _splice((reader, writer), upstream)
