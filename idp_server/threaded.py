"""The IdP in this process on an ephemeral loopback port (tests, the local stack's threads mode)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from idp_server.app import create_app
from idp_server.settings import IdpSettings
from wiflab.serving import ThreadedServer


class _Deferred:
    """A WSGI app set after the socket is bound, so an unset issuer can become the server URL."""

    app: Callable[..., Iterable[bytes]]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.app(environ, start_response)


@contextmanager
def serve_threaded(settings: IdpSettings) -> Iterator[ThreadedServer]:
    """Serve the IdP until the block ends; with no issuer set, the issuer is ``server.url``."""
    deferred = _Deferred()
    with ThreadedServer(deferred) as server:
        if settings.issuer is None and not settings.issuer_from_host:
            settings = settings.replace(issuer=server.url)
        deferred.app = create_app(settings)
        yield server
