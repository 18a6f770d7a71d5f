"""Whatever the path, method and credential headers, the front end never answers 5xx."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_gcp.topology import Policy
from tests.mock_gcp_run.conftest import FrontEndServer, StartFrontEnd, service
from tests.mock_gcp_run.helpers import id_token_claims

# Header values HTTP can carry: visible ASCII, with spaces and tabs inside (no CR/LF).
header_values = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from(["\t"]), max_size=200
).map(str.strip)
segments = st.text(st.sampled_from("abcdefghijkXYZ0123456789-_=+/"), max_size=60)
jwt_like = st.lists(segments, min_size=1, max_size=4).map(".".join)
paths = st.text(max_size=60).map(lambda p: "/" + quote(p, safe="/?&=%;,"))


@pytest.fixture
def fronts(start_front_end: StartFrontEnd) -> list[FrontEndServer]:
    public = service(allow_unauthenticated=True, policy=Policy())
    return [start_front_end(), start_front_end(public)]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=paths,
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    authorization=st.none() | header_values | jwt_like.map("Bearer ".__add__),
    serverless=st.none() | header_values | jwt_like.map("bearer ".__add__),
    valid_token=st.booleans(),
)
def test_no_request_gets_a_5xx(
    fronts: list[FrontEndServer],
    path: str,
    method: str,
    authorization: str | None,
    serverless: str | None,
    valid_token: bool,
) -> None:
    for front in fronts:
        headers = {}
        if valid_token:
            headers["Authorization"] = f"Bearer {front.token(id_token_claims(front.url))}"
        elif authorization is not None:
            headers["Authorization"] = authorization
        if serverless is not None:
            headers["X-Serverless-Authorization"] = serverless
        response = requests.request(method, front.url + path, headers=headers, data=b"body")
        assert response.status_code < 500, (front.url, method, path, headers, response.text)
