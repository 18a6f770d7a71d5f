"""What the front end forwards and what comes back: methods, paths, bodies, headers, streams."""

from __future__ import annotations

import hashlib
import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests

from mock_gcp.topology import Policy
from tests.mock_gcp_run.conftest import FrontEndServer, StartFrontEnd, service
from tests.mock_gcp_run.helpers import BIG_CHUNK, BIG_CHUNKS, EchoUpstream, id_token_claims
from wiflab_core.serving import bind_socket, url_of


@pytest.fixture
def echo_front(start_front_end: StartFrontEnd, echo: tuple[EchoUpstream, str]) -> FrontEndServer:
    return start_front_end(upstream=echo[1])


def auth(front: FrontEndServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {front.token(id_token_claims(front.url))}"}


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "PROPFIND"])
def test_method_path_query_and_body_pass_through(echo_front: FrontEndServer, method: str) -> None:
    target = "/echo/a%2Fb/c?x=1&y=%20z&x=2"
    response = requests.request(
        method, echo_front.url + target, headers=auth(echo_front), data=b"payload \xe2\x9c\x93"
    )
    assert response.status_code == 200
    echoed = response.json()
    assert echoed["method"] == method
    assert echoed["target"] == target  # escapes such as %2F survive the hop
    assert echoed["body"] == "payload \u2713"


def test_options_and_head_reach_the_app(echo_front: FrontEndServer) -> None:
    options = requests.options(echo_front.url + "/echo/x", headers=auth(echo_front))
    assert (options.status_code, options.headers["X-Method"]) == (200, "OPTIONS")
    head = requests.head(echo_front.url + "/echo/x", headers=auth(echo_front))
    assert (head.status_code, head.headers["X-Method"], head.content) == (200, "HEAD", b"")


def test_headers_forwarded_with_client_address_and_scheme(echo_front: FrontEndServer) -> None:
    headers = {**auth(echo_front), "X-Custom": "kept", "X-Forwarded-For": "203.0.113.7"}
    echoed = requests.get(echo_front.url + "/echo/h", headers=headers).json()["headers"]
    assert echoed["X-Custom"] == "kept"
    assert echoed["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"
    assert echoed["X-Forwarded-Proto"] == "http"
    assert echoed["Host"] == echo_front.url.removeprefix("http://")  # the host the caller used


def test_hop_by_hop_headers_are_not_forwarded(echo_front: FrontEndServer) -> None:
    headers = {
        **auth(echo_front),
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "1",
        "TE": "trailers",
    }
    echoed = requests.get(echo_front.url + "/echo/h", headers=headers).json()["headers"]
    assert "X-Hop" not in echoed
    assert "Te" not in echoed and "TE" not in echoed


def test_no_headers_are_invented(echo_front: FrontEndServer) -> None:
    connection = http.client.HTTPConnection(urlsplit(echo_front.url).netloc)
    connection.putrequest("GET", "/echo/h", skip_accept_encoding=True)
    for name, value in auth(echo_front).items():
        connection.putheader(name, value)
    connection.endheaders()
    echoed = json.loads(connection.getresponse().read())["headers"]
    connection.close()
    assert "User-Agent" not in echoed
    assert "Accept-Encoding" not in echoed
    assert "Accept" not in echoed


def test_response_comes_back_unchanged(echo_front: FrontEndServer) -> None:
    response = requests.get(echo_front.url + "/cookies", headers=auth(echo_front), stream=True)
    assert response.status_code == 207
    assert response.headers["Content-Type"] == "application/x-custom"
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.raw.read(decode_content=False) == b"\x1f\x8bnot-really-gzip"


def test_large_response_is_streamed_whole(echo_front: FrontEndServer) -> None:
    response = requests.get(echo_front.url + "/big", headers=auth(echo_front), stream=True)
    assert response.status_code == 200
    digest, size = hashlib.sha256(), 0
    for chunk in response.iter_content(256 * 1024):
        digest.update(chunk)
        size += len(chunk)
    assert size == len(BIG_CHUNK) * BIG_CHUNKS
    assert digest.hexdigest() == hashlib.sha256(BIG_CHUNK * BIG_CHUNKS).hexdigest()


def test_response_is_forwarded_as_it_arrives(
    echo_front: FrontEndServer, echo: tuple[EchoUpstream, str]
) -> None:
    upstream, _ = echo
    upstream.release.clear()
    response = requests.get(echo_front.url + "/slow", headers=auth(echo_front), stream=True)
    # The app is holding its second chunk until released: the first must already be here.
    first = response.raw.read(len(b"first;"))
    upstream.release.set()
    assert first == b"first;"
    assert response.raw.read() == b"released"


def test_upstream_down_is_503_with_a_clear_page(start_front_end: StartFrontEnd) -> None:
    closed = bind_socket()
    down = url_of(closed)
    closed.close()  # nothing listens there any more
    front = start_front_end(upstream=down)
    response = requests.get(front.url + "/dump", headers=auth(front))
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert b"Error: Service Unavailable" in response.content
    assert down.encode() in response.content


def test_upstream_down_on_a_public_service_is_503(start_front_end: StartFrontEnd) -> None:
    closed = bind_socket()
    down = url_of(closed)
    closed.close()
    front = start_front_end(service(allow_unauthenticated=True, policy=Policy()), upstream=down)
    assert requests.post(front.url + "/anything", data=b"x").status_code == 503


def test_refused_request_with_body_leaves_the_connection_usable(
    echo_front: FrontEndServer,
) -> None:
    session = requests.Session()
    assert session.post(echo_front.url + "/echo/x", data=b"x" * 100_000).status_code == 403
    response = session.post(echo_front.url + "/echo/y", headers=auth(echo_front), data=b"ok")
    assert (response.status_code, response.json()["body"]) == (200, "ok")
