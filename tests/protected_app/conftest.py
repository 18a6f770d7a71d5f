"""Fixtures: keys generated at run time, a JWKS served over loopback, the dump app served."""

from __future__ import annotations

import pytest

from protected_app.app import create_app
from protected_app.settings import Settings
from tests.protected_app.helpers import JwksServer, ServeDump
from wiflab_core.keys import SigningKey, generate
from wiflab_core.serving import ThreadedServer


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return generate("RS256")


@pytest.fixture(scope="session")
def other_rsa_key() -> SigningKey:
    return generate("RS256")


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    return generate("ES256")


@pytest.fixture
def jwks(
    rsa_key: SigningKey, ec_key: SigningKey, running_servers: list[ThreadedServer]
) -> JwksServer:
    server = JwksServer([rsa_key, ec_key])
    running_servers.append(server.server.start())
    return server


@pytest.fixture
def serve_dump(running_servers: list[ThreadedServer]) -> ServeDump:
    """Start the dump app with the given settings on loopback; returns its base URL."""

    def serve(settings: Settings) -> str:
        server = ThreadedServer(create_app(settings)).start()
        running_servers.append(server)
        return server.url

    return serve
