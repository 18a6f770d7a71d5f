"""A malformed chunked body, or a client gone mid-body, is a 400 at every part (never a 500).

Raw sockets against each part served on port 0, in threads mode (werkzeug) and under
gunicorn, where the failures differ: werkzeug raises OSError("Invalid chunk header"),
gunicorn InvalidChunkSize or NoMoreData.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp_server.app import create_app as create_idp
from idp_server.settings import IdpSettings
from mock_gcp.run.front_end import create_app as create_front_end
from mock_gcp.topology import Service
from protected_app.app import create_app as create_dump
from protected_app.settings import Settings as DumpSettings
from tests.mock_gcp.conftest import topology_yaml
from wiflab_core import keys
from wiflab_core.serving import GunicornProcess, ThreadedServer

PUBLIC_TOPOLOGY = """
project: {id: demo-project, number: "123456789012"}
services:
  - name: public-dump
    app: protected_app
    allowUnauthenticated: true
"""

BAD_BODIES = {
    "a chunk size that is not hex": b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "a chunk size with a sign": b"Transfer-Encoding: chunked\r\n\r\n-5\r\n{}\r\n0\r\n\r\n",
    "a chunk cut short": b'Transfer-Encoding: chunked\r\n\r\n100\r\n{"a"',
    "a chunk with no terminator": b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
    "a Content-Length never reached": b'Content-Length: 100\r\n\r\n{"a"',
}


def status_of(url: str, path: str, rest: bytes) -> tuple[int, bytes]:
    """Send one request whose body is broken, then close our side; the answer's status."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        sock.sendall(head.encode() + b"Connection: close\r\n" + rest)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line, "no answer at all"
    return int(status_line.split()[1]), answer


def threads(app) -> Iterator[str]:
    server = ThreadedServer(app)
    with server:
        yield server.url


@pytest.fixture(scope="module")
def topology(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("topology") / "wif.yaml"
    path.write_text(topology_yaml(json.dumps(keys.render_jwks([keys.generate().public_jwk]))))
    return path


@pytest.fixture(scope="module")
def public_topology(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("public") / "wif.yaml"
    path.write_text(PUBLIC_TOPOLOGY)
    return path


@pytest.fixture(scope="module", params=["threads", "gunicorn"])
def parts(request, topology: Path, public_topology: Path) -> Iterator[dict[str, str]]:
    """Each part's URL and the path that reads a body."""
    if request.param == "threads":
        idp, dump = ThreadedServer(), ThreadedServer(create_dump(DumpSettings()))
        idp.app = create_idp(IdpSettings(issuer=idp.url))
        from mock_gcp.app import create_app_from_env

        google = ThreadedServer()
        google.app = create_app_from_env(
            {
                "WIFLAB_TOPOLOGY": str(topology),
                "WIFLAB_IDP_ISSUER": idp.url,
                "WIFLAB_GOOGLE_ISSUER": google.url,
            }
        )
        with idp, dump, google:
            service = Service(name="public-dump", app="protected_app", allow_unauthenticated=True)
            front = ThreadedServer(
                create_front_end(
                    service,
                    service_url="https://public-dump.example",
                    upstream_url=dump.url,
                    google_keys=lambda kid: None,
                    google_issuers=(),
                    policy_for_invoke=list,
                )
            )
            with front:
                yield {"idp": idp.url, "google": google.url, "dump": dump.url, "run": front.url}
        return
    idp = GunicornProcess("idp_server.app:create_app()", env={"IDP_ISSUER": "http://idp.example"})
    dump = GunicornProcess("protected_app.app:create_app()")
    google = GunicornProcess(
        "mock_gcp.app:create_app_from_env()",
        env={"WIFLAB_TOPOLOGY": str(topology), "WIFLAB_IDP_ISSUER": "http://idp.example"},
    )
    google.env["WIFLAB_GOOGLE_ISSUER"] = google.url
    with idp, dump, google:
        front = GunicornProcess(
            "mock_gcp.run.front_end:create_app_from_env()",
            env={
                "WIFLAB_TOPOLOGY": str(public_topology),
                "WIFLAB_RUN_SERVICE": "public-dump",
                "WIFLAB_RUN_SERVICE_URL": "https://public-dump.example",
                "WIFLAB_RUN_UPSTREAM": dump.url,
                "WIFLAB_GOOGLE_CERTS_URL": "http://127.0.0.1:9/certs",
                "WIFLAB_GOOGLE_ISSUER": "https://accounts.google.com",
            },
        )
        with front:
            yield {"idp": idp.url, "google": google.url, "dump": dump.url, "run": front.url}


ENDPOINTS = {
    "the IdP's /token": ("idp", "/token"),
    "STS": ("google", "/v1/token"),
    "IAM Credentials": (
        "google",
        "/v1/projects/-/serviceAccounts/sa@demo-project.iam.gserviceaccount.com:generateIdToken",
    ),
    "/dump": ("dump", "/dump"),
    "the Cloud Run front end": ("run", "/dump"),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("broken", list(BAD_BODIES))
def test_a_broken_body_is_a_400(parts: dict[str, str], endpoint: str, broken: str) -> None:
    part, path = ENDPOINTS[endpoint]
    status, answer = status_of(parts[part], path, BAD_BODIES[broken])
    assert status == 400, answer[:600]
    assert b"Traceback" not in answer and b"Internal" not in answer


chunk_lines = st.one_of(
    st.integers(0, 0x10000).map(lambda n: f"{n:x}"),
    st.text(alphabet="0123456789abcdefxyz-+; =\t", max_size=10),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sizes=st.lists(chunk_lines, min_size=1, max_size=4),
    data=st.binary(max_size=64),
    endpoint=st.sampled_from(list(ENDPOINTS)),
)
def test_any_chunked_framing_is_never_a_5xx(parts, sizes, data, endpoint) -> None:
    part, path = ENDPOINTS[endpoint]
    body = b"".join(size.encode() + b"\r\n" + data + b"\r\n" for size in sizes)
    status, answer = status_of(parts[part], path, b"Transfer-Encoding: chunked\r\n\r\n" + body)
    assert status < 500, answer[:600]
    assert b"Traceback" not in answer
