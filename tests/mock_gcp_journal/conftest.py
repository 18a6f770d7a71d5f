"""Google's side on loopback with its journal, the issuer it trusts and the shared topology
(tests/mock_gcp/conftest.py); each test reads the journal from where it was when it began."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.mock_gcp.conftest import FakeIssuer, Google, serve_google, topology  # noqa: F401
from tests.mock_gcp.conftest import issuer as issuer
from tests.mock_gcp.conftest import uploaded_key as uploaded_key

JOURNAL = "/wiflab/v1/journal"


@pytest.fixture(scope="module")
def google(topology, issuer: FakeIssuer) -> Iterator[Google]:  # noqa: F811
    server, google = serve_google(topology, issuer.url)
    with server:
        yield google


class Reader:
    """The journal from the instant the test began."""

    def __init__(self, url: str):
        self.url = url + JOURNAL
        self.since = requests.get(self.url, timeout=10).json()["next"]

    def entries(self, **params: str) -> list[dict[str, Any]]:
        response = requests.get(self.url, params={"since": str(self.since), **params}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["entries"]

    def last(self) -> dict[str, Any]:
        return self.entries()[-1]


@pytest.fixture
def journal(google: Google) -> Reader:
    return Reader(google.url)
