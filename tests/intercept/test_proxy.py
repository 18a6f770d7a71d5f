"""The intercepting proxy as a client sees it: Google's hosts answered by the stand-in's
parts under the local CA, every other host tunnelled untouched, bad requests told why."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.intercept.conftest import RUN_HOST, RawUpstream, self_signed, serve
from wiflab_lab.intercept.ca import LocalCA
from wiflab_lab.intercept.proxy import BadRequest, InterceptProxy, parse_head
from wiflab_lab.intercept.routes import Routes

GOOGLE_HOSTS = [
    "sts.googleapis.com",
    "iamcredentials.googleapis.com",
    "oauth2.googleapis.com",
    "www.googleapis.com",
    "accounts.google.com",
    "cloudresourcemanager.googleapis.com",
]


def session(proxy: InterceptProxy) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # only the proxy given here, whatever the environment says
    s.proxies = {"https": proxy.url, "http": proxy.url}
    return s


def port_of(proxy: InterceptProxy) -> int:
    return int(proxy.url.rsplit(":", 1)[1])


def raw(proxy: InterceptProxy, data: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port_of(proxy)), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.parametrize("host", GOOGLE_HOSTS)
def test_googles_hosts_reach_googles_side_under_the_local_ca(
    proxy: InterceptProxy, local_ca: LocalCA, host: str
) -> None:
    answer = session(proxy).post(
        f"https://{host}/v1/token?x=1", data="a=b", verify=str(local_ca.cert_file), timeout=10
    )
    assert answer.json() == {
        "server": "google",
        "path": "/v1/token?x=1",
        "host": host,
        "body": "a=b",
        # The proxy keeps its connections to the part alive, as the client keeps its own.
        "connection": "keep-alive",
    }


def test_keep_alive_requests_share_one_terminated_connection(
    proxy: InterceptProxy, local_ca: LocalCA
) -> None:
    s = session(proxy)
    for i in range(3):
        answer = s.get(
            f"https://sts.googleapis.com/{i}", verify=str(local_ca.cert_file), timeout=10
        )
        assert answer.json()["path"] == f"/{i}"


def test_chunked_and_close_delimited_answers_arrive_whole(
    proxy: InterceptProxy, local_ca: LocalCA
) -> None:
    s = session(proxy)
    verify = str(local_ca.cert_file)
    for _ in range(2):
        chunked = s.get("https://oauth2.googleapis.com/chunked", verify=verify, timeout=10)
        assert chunked.json()["path"] == "/chunked"
        assert chunked.headers["Connection"] == "keep-alive"
    assert proxy.terminated == 1
    closed = s.get("https://oauth2.googleapis.com/close", verify=verify, timeout=10)
    assert closed.json()["path"] == "/close"
    assert closed.headers["Connection"] == "close"
    assert s.get("https://oauth2.googleapis.com/again", verify=verify, timeout=10).ok
    assert proxy.terminated == 2  # the close-delimited answer ended that connection


def test_expect_100_continue_is_answered_and_the_body_passed_on(
    proxy: InterceptProxy, local_ca: LocalCA
) -> None:
    with _tls_through(proxy, local_ca, "sts.googleapis.com", ["http/1.1"]) as tls:
        tls.sendall(
            b"POST /v1/token HTTP/1.1\r\nHost: sts.googleapis.com\r\nContent-Length: 3\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        assert tls.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        tls.sendall(b"abc")
        answer = b""
        while b'"body": "abc"' not in answer:
            chunk = tls.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ")


def test_a_chunked_request_body_is_passed_on_whole(
    proxy: InterceptProxy, local_ca: LocalCA
) -> None:
    """The echo part reads Content-Length bodies only: what it got shows the proxy's framing
    left the chunked body for it intact (it answers an empty body, then the next request)."""
    with _tls_through(proxy, local_ca, "sts.googleapis.com", ["http/1.1"]) as tls:
        tls.sendall(
            b"POST /one HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n"
            b"GET /two HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        )
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    assert answer.count(b"HTTP/1.1 200 ") == 2
    assert b'"path": "/two"' in answer


def test_a_run_app_service_reaches_its_front_end(proxy: InterceptProxy, local_ca: LocalCA) -> None:
    answer = session(proxy).get(
        f"https://{RUN_HOST}/dump", verify=str(local_ca.cert_file), timeout=10
    )
    assert answer.json()["server"] == "run"
    assert answer.json()["host"] == RUN_HOST


def test_the_certificate_a_client_sees_is_the_local_cas_leaf_for_the_host(
    proxy: InterceptProxy, local_ca: LocalCA
) -> None:
    context = ssl.create_default_context(cafile=str(local_ca.cert_file))
    with socket.create_connection(("127.0.0.1", port_of(proxy)), timeout=10) as sock:
        sock.sendall(b"CONNECT oauth2.googleapis.com:443 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200 ")
        with context.wrap_socket(sock, server_hostname="oauth2.googleapis.com") as tls:
            cert = tls.getpeercert()
    assert cert is not None
    assert dict(x[0] for x in cert["issuer"])["commonName"] == "wiflab local CA (Google hosts only)"
    assert cert["subjectAltName"] == (("DNS", "oauth2.googleapis.com"),)


def test_any_other_https_host_is_tunnelled_untouched(proxy: InterceptProxy, tmp_path: Path) -> None:
    """The test's own HTTPS target verifies with its own certificate only: had the proxy
    terminated the connection, the client would have seen the local CA's."""
    context, cert_file = self_signed(tmp_path)
    target = serve("target", context)
    try:
        port = target.server_address[1]
        answer = session(proxy).get(
            f"https://127.0.0.1:{port}/hello", verify=str(cert_file), timeout=10
        )
        assert answer.json()["server"] == "target"
        assert answer.json()["path"] == "/hello"
    finally:
        target.shutdown()


def test_a_google_host_on_another_port_is_not_intercepted(proxy: InterceptProxy) -> None:
    """Only :443 is terminated; sts.googleapis.com:8443 would be a tunnel to the real host."""
    assert Routes.tls_host(proxy.routes, "sts.googleapis.com")
    answer = raw(proxy, b"CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 502 Bad Gateway")
    assert b"cannot reach 127.0.0.1:1" in answer


@pytest.mark.parametrize("host", ["metadata.google.internal", "169.254.169.254"])
def test_plain_http_to_the_metadata_host_reaches_googles_side(
    proxy: InterceptProxy, host: str
) -> None:
    answer = session(proxy).get(
        f"http://{host}/computeMetadata/v1/instance/service-accounts/?recursive=true",
        headers={"Metadata-Flavor": "Google"},
        timeout=10,
    )
    assert answer.json() == {
        "server": "google",
        "path": "/computeMetadata/v1/instance/service-accounts/?recursive=true",
        "host": host,
        "body": "",
        "connection": "close",
    }


def test_plain_http_to_another_host_goes_to_that_host(proxy: InterceptProxy) -> None:
    other = serve("other")
    try:
        port = other.server_address[1]
        answer = session(proxy).get(f"http://127.0.0.1:{port}/x?y=1", timeout=10)
        assert answer.json()["server"] == "other"
        assert answer.json()["host"] == f"127.0.0.1:{port}"
    finally:
        other.shutdown()


def _tls_through(proxy: InterceptProxy, ca: LocalCA, host: str, alpn: list[str]) -> ssl.SSLSocket:
    sock = socket.create_connection(("127.0.0.1", port_of(proxy)), timeout=10)
    sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\n\r\n".encode())
    assert sock.recv(1024).startswith(b"HTTP/1.1 200 ")
    context = ssl.create_default_context(cafile=str(ca.cert_file))
    context.set_alpn_protocols(alpn)
    return context.wrap_socket(sock, server_hostname=host)


def test_an_h2_only_client_of_iamcredentials_reaches_the_grpc_server(
    proxy: InterceptProxy, local_ca: LocalCA, grpc_upstream: RawUpstream
) -> None:
    """gRPC clients offer h2 alone (grpc-core adds grpc-exp): their bytes go to the h2c server."""
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    with _tls_through(proxy, local_ca, "iamcredentials.googleapis.com", ["grpc-exp", "h2"]) as tls:
        assert tls.selected_alpn_protocol() == "h2"
        tls.sendall(preface)
        assert grpc_upstream.got.wait(10)
    assert grpc_upstream.received[0].startswith(preface)


def test_a_client_offering_h2_and_http11_gets_http11_and_rest(
    proxy: InterceptProxy, local_ca: LocalCA, grpc_upstream: RawUpstream
) -> None:
    """Go's net/http offers both: it must land on REST, not on the gRPC server."""
    host = "iamcredentials.googleapis.com"
    with _tls_through(proxy, local_ca, host, ["h2", "http/1.1"]) as tls:
        assert tls.selected_alpn_protocol() == "http/1.1"
        tls.sendall(f"GET /v1/x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    assert b'"server": "google"' in answer
    assert grpc_upstream.received == []


def test_other_hosts_never_offer_h2(proxy: InterceptProxy, local_ca: LocalCA) -> None:
    with _tls_through(proxy, local_ca, "sts.googleapis.com", ["h2", "http/1.1"]) as tls:
        assert tls.selected_alpn_protocol() == "http/1.1"


@pytest.mark.parametrize(
    ("head", "status", "text"),
    [
        (b"garbage\r\n\r\n", 400, b"request line must be METHOD TARGET HTTP/1.1"),
        (b"CONNECT sts.googleapis.com HTTP/1.1\r\n\r\n", 400, b"CONNECT target must be host:port"),
        (b"CONNECT sts.googleapis.com:99999 HTTP/1.1\r\n\r\n", 400, b"the port must be 1-65535"),
        (b"CONNECT a b:443 HTTP/1.1\r\n\r\n", 400, b"request line must be METHOD TARGET"),
        (b"CONNECT x:443 HTTP/2\r\n\r\n", 400, b"the version must be HTTP/1.0 or HTTP/1.1"),
        (b"GET /relative HTTP/1.1\r\nHost: x\r\n\r\n", 400, b"must be an absolute http:// URL"),
        (b"GET https://sts.googleapis.com/ HTTP/1.1\r\n\r\n", 400, b"or use CONNECT"),
        (b"GET http://x/ HTTP/1.1\r\nno colon\r\n\r\n", 400, b"is not NAME: VALUE"),
        (b"GET http://x/ HTTP/1.1\r\nX: \xff\r\n\r\n", 400, b"the request head must be ASCII"),
        (b"GET http://127.0.0.1:1/ HTTP/1.1\r\n\r\n", 502, b"cannot reach 127.0.0.1:1"),
        (b"GET http://x/ HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431, b"over 65536 bytes"),
    ],
)
def test_bad_requests_are_told_what_is_wrong(
    proxy: InterceptProxy, head: bytes, status: int, text: bytes
) -> None:
    answer = raw(proxy, head)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"Connection: close" in answer
    assert text in answer


def test_the_proxy_listens_on_loopback_only(local_ca: LocalCA) -> None:
    routes = Routes.build("http://127.0.0.1:1", {})
    for host in ("0.0.0.0", "192.168.1.2", "::"):
        with pytest.raises(ValueError, match="loopback only"):
            InterceptProxy(local_ca, routes, host=host)


@given(st.binary(max_size=300))
def test_any_head_parses_or_is_a_bad_request(data: bytes) -> None:
    try:
        head = parse_head(data)
    except BadRequest as exc:
        assert str(exc)
        assert exc.status == 400
    else:
        assert head.method and head.target and head.version.startswith("HTTP/1.")


_line = st.text(st.characters(min_codepoint=1, max_codepoint=0x7F), max_size=60)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request_line=_line, header=_line)
def test_any_request_gets_an_answer_or_a_close_never_a_hang(
    proxy: InterceptProxy, request_line: str, header: str
) -> None:
    data = f"{request_line}\r\n{header}\r\n\r\n".encode()
    if request_line.startswith("CONNECT "):
        data = b"CONNECT x HTTP/1.1\r\n\r\n"  # a tunnel would wait for the client: not a hang
    try:
        answer = raw(proxy, data, timeout=15)
    except ConnectionResetError:
        return
    assert answer == b"" or answer.startswith(b"HTTP/1.1 ")
