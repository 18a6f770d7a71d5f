"""Fixtures: the IdP app (flaskr style) and IdPs served on ephemeral loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp_server.app import create_app
from idp_server.settings import IdpSettings
from tests.idp_server.helpers import ADMIN_SECRET, Idp
from wiflab_core.serving import ThreadedServer


@pytest.fixture
def app() -> Flask:
    return create_app(IdpSettings(issuer="https://idp.example", admin_secret=ADMIN_SECRET))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def serve_idp() -> Iterator[Callable[..., Idp]]:
    """Start IdPs with the given settings; the issuer defaults to the server's own URL."""
    servers: list[ThreadedServer] = []

    def start(**settings: Any) -> Idp:
        server = ThreadedServer()
        server.app = create_app(IdpSettings(**{"issuer": server.url, **settings}))
        servers.append(server.start())
        return Idp(server.url)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def idp(serve_idp: Callable[..., Idp]) -> Idp:
    return serve_idp(admin_secret=ADMIN_SECRET)
