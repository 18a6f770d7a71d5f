"""Whatever the path and credential headers, the dump service never answers 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protected_app.app import create_app
from protected_app.settings import Settings, VerifyMode
from tests.protected_app.helpers import AUDIENCE, ISSUER, JwksServer
from wiflab_core.keys import generate
from wiflab_core.serving import ThreadedServer

# Header values HTTP can carry: visible ASCII, spaces and tabs inside (no CR/LF).
header_values = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from(["\t"]), max_size=200
).map(str.strip)
jwt_like = st.lists(
    st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-_="), max_size=40),
    min_size=1,
    max_size=4,
).map(".".join)
credentials = st.one_of(header_values, jwt_like.map("Bearer ".__add__))
paths = st.text(max_size=60).map(lambda p: "/" + quote(p, safe="/?&=%"))


@pytest.fixture(scope="module")
def dump_urls() -> Iterator[list[str]]:
    jwks = JwksServer([generate("RS256")])
    modes = [
        Settings(),
        Settings.from_env({"K_SERVICE": "dump"}),
        Settings(VerifyMode.JWKS, (AUDIENCE,), (ISSUER,), jwks.url),
    ]
    servers = [jwks.server.start(), *(ThreadedServer(create_app(s)).start() for s in modes)]
    yield [server.url for server in servers[1:]]
    for server in servers:
        server.stop()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=paths, authorization=credentials, serverless=st.none() | credentials)
def test_no_input_gets_a_5xx(
    dump_urls: list[str], path: str, authorization: str, serverless: str | None
) -> None:
    headers = {"Authorization": authorization}
    if serverless is not None:
        headers["X-Serverless-Authorization"] = serverless
    for url in dump_urls:
        for target in (path, "/dump"):
            response = requests.get(url + target, headers=headers)
            assert response.status_code < 500, (url, target, headers, response.text)
            if target == "/dump":
                assert response.json()["identity"]["verified"] is False
