"""A request body that cannot be read is the client's fault: a 400, never a 500.

Servers hand apps the body as ``wsgi.input``, and each breaks differently on a malformed
``Transfer-Encoding: chunked`` body or a client that disconnects mid-body: werkzeug's
server raises ``OSError("Invalid chunk header")``, gunicorn ``InvalidChunkSize`` or
``NoMoreData``; with ``wsgi.input_terminated`` set (both set it for chunked bodies, gunicorn
always) werkzeug hands that stream to the app unwrapped, so the error reaches the view and
becomes a 500. ``guard_input`` wraps ``wsgi.input`` so that any failure to read it raises
``UnreadableBody``, a werkzeug ``BadRequest`` every app already renders as its own 400.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import BadRequest, HTTPException

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class UnreadableBody(BadRequest):
    """400: the body could not be read; the description says why, without a repr."""


def describe(exc: BaseException) -> str:
    """Why a body could not be read, in words (no exception repr: it may echo the input)."""
    text = f"{type(exc).__name__} {exc}".lower()
    if "chunk" in text:
        return "body: the chunked transfer encoding is malformed"
    return "body: the connection ended before the whole body arrived"


class GuardedInput:
    """``wsgi.input`` whose read errors become ``UnreadableBody``.

    ``expected``: the Content-Length. gunicorn's reader returns a short body quietly when the
    client stops early; the end of the stream before that many bytes is refused here too.
    """

    def __init__(self, stream: Any, expected: int | None = None):
        self._stream = stream
        self._expected = expected
        self._seen = 0

    @classmethod
    def of(cls, environ: WSGIEnvironment) -> GuardedInput:
        stream = environ["wsgi.input"]
        if isinstance(stream, GuardedInput):
            return stream
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        length = environ.get("CONTENT_LENGTH", "")
        expected = int(length) if length.isdigit() and not chunked else None
        return cls(stream, expected)

    def read(self, *args: Any) -> bytes:
        data: bytes = self._call(self._stream.read, *args)
        whole = not args or args[0] is None or args[0] < 0
        return self._counted(data, ended=whole or (not data and args[0] != 0))

    def readline(self, *args: Any) -> bytes:
        data: bytes = self._call(self._stream.readline, *args)
        return self._counted(data, ended=not data)

    def readlines(self, *args: Any) -> list[bytes]:
        return list(iter(self.readline, b""))

    def _counted(self, data: bytes, *, ended: bool) -> bytes:
        self._seen += len(data)
        if ended and self._expected is not None and self._seen < self._expected:
            raise UnreadableBody(describe(EOFError()))
        return data

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    @staticmethod
    def _call(method: Callable[..., Any], *args: Any) -> Any:
        try:
            return method(*args)
        except HTTPException:
            raise  # werkzeug's own ClientDisconnected and 413 are 4xx already
        except Exception as exc:  # each server raises its own kinds: all mean a bad body
            raise UnreadableBody(describe(exc)) from None


def guard_input(app: WSGIApplication) -> WSGIApplication:
    """``app`` with its ``wsgi.input`` guarded (use as ``app.wsgi_app = guard_input(...)``)."""

    def guarded(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if "wsgi.input" in environ:
            environ["wsgi.input"] = GuardedInput.of(environ)
        return app(environ, start_response)

    return guarded
