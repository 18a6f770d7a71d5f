"""``wiflab idp serve``: real gunicorn processes, one key state shared by every worker."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import requests

from idp_server.serve_process import ServeProcess
from tests.idp_server.helpers import ADMIN_SECRET, TOKEN_SECRET, Idp
from wiflab_core.keys import generate

CLAIMS = {"sub": "alice", "aud": "aud-1"}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    return {**env, **extra}


def test_rotation_through_one_worker_is_seen_by_the_other() -> None:
    with ServeProcess("--workers", "2", env=clean_env(IDP_ADMIN_SECRET=ADMIN_SECRET)) as server:
        idp = Idp(server.url)
        parts = urlsplit(server.url)
        body = json.dumps(CLAIMS).encode()
        # A sync worker serves one connection at a time: the worker that takes this half-sent
        # request waits for the rest, so the rotation below is served by the other worker.
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as held:
            held.sendall(b"POST /token HTTP/1.1\r\nHost: idp\r\n")
            kid = idp.add_key("ES256", status="active")
            held.sendall(b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
            answer = b""
            while chunk := held.recv(65536):
                answer += chunk
        head, _, token = answer.decode().partition("\r\n\r\n")
        assert head.startswith("HTTP/1.1 200"), head
        assert jwt.get_unverified_header(token)["kid"] == kid
        assert idp.verify(token)["sub"] == "alice"


def test_two_processes_from_one_key_file_publish_the_same_keys(tmp_path: Path) -> None:
    key_file = tmp_path / "keys.pem"
    keys = [generate("RS256"), generate("ES256")]
    key_file.write_text("".join(k.private_pem() for k in keys))
    args = ("--key-file", str(key_file), "--issuer", "https://idp.example", "--workers", "1")
    with ServeProcess(*args, env=clean_env()) as a, ServeProcess(*args, env=clean_env()) as b:
        jwks_a = requests.get(f"{a.url}/certs", timeout=10).json()
        jwks_b = requests.get(f"{b.url}/certs", timeout=10).json()
        assert jwks_a == jwks_b
        assert [k["kid"] for k in jwks_a["keys"]] == [k.kid for k in keys]
        for signer, verifier in ((a, b), (b, a)):
            token = requests.post(f"{signer.url}/token", json=CLAIMS, timeout=10).text
            key = jwt.PyJWKClient(f"{verifier.url}/certs").get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, ["RS256"], audience="aud-1")
            assert claims["iss"] == "https://idp.example"


def test_serve_prints_the_issuer_removes_its_private_state_and_logs_no_secret(
    tmp_path: Path,
) -> None:
    env = clean_env(
        IDP_TOKEN_SECRET=TOKEN_SECRET, IDP_ADMIN_SECRET=ADMIN_SECRET, TMPDIR=str(tmp_path)
    )
    server = ServeProcess("--workers", "1", env=env).start()
    try:
        idp = Idp(server.url)
        state_dirs = list(tmp_path.glob("wiflab-idp-*"))
        assert len(state_dirs) == 1 and (state_dirs[0] / "idp-keys.json").exists()
        headers = {"Authorization": "Bearer wrong-secret-in-logs-check"}
        assert idp.post_token(CLAIMS, headers=headers).status_code == 401
        assert idp.post_token(CLAIMS, headers={"Authorization": f"Bearer {TOKEN_SECRET}"}).ok
        idp.add_key("RS256", status="active")
    finally:
        output = server.stop()
    assert f"wiflab idp: issuer {server.url}" in output
    assert "IDP_TOKEN_SECRET" in output  # the guard is announced by name
    assert "refused /token" in output and "activated" not in output and "added" in output
    for secret in (TOKEN_SECRET, ADMIN_SECRET, "wrong-secret-in-logs-check"):
        assert secret not in output
    assert not state_dirs[0].exists()


def test_serve_beyond_loopback_without_a_secret_refuses_to_start() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wiflab.cli", "idp", "serve", "--host", "0.0.0.0", "--port", "0"],
        env=clean_env(IDP_ISSUER="https://idp.example"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "IDP_TOKEN_SECRET" in result.stderr and "IDP_ALLOW_PUBLIC_MINTING" in result.stderr


def test_serve_beyond_loopback_needs_an_explicit_issuer() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wiflab.cli", "idp", "serve", "--host", "0.0.0.0", "--port", "0"],
        env=clean_env(IDP_TOKEN_SECRET=TOKEN_SECRET),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "IDP_ISSUER" in result.stderr
