"""``wiflab idp serve``: real gunicorn processes, one key state shared by every worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
        kid = idp.add_key("ES256", status="active")
        # Each token on a new connection: the two workers take turns accepting, so both sign
        # some of these, and the one that did not serve the rotation must have reloaded it.
        kids = set()
        for _ in range(20):
            with requests.post(f"{server.url}/token", json=CLAIMS, timeout=10) as answer:
                assert answer.status_code == 200, answer.text
                kids.add(jwt.get_unverified_header(answer.text)["kid"])
                assert idp.verify(answer.text)["sub"] == "alice"
        assert kids == {kid}


def test_a_stop_signal_while_the_workers_boot_still_stops_the_server() -> None:
    # SIGTERM as soon as one worker answers, while the other is still booting (gevent
    # patching the standard library): a worker that lost the signal lived on until killed.
    server = ServeProcess("--workers", "2", env=clean_env()).start()
    assert server.process is not None
    server.process.terminate()
    try:
        code = server.process.wait(timeout=25)
    except subprocess.TimeoutExpired:
        server.process.kill()
        raise AssertionError(f"the IdP did not stop on SIGTERM:\n{server.stop()}") from None
    assert code == 0, server.stop()
    assert "Parent changed" not in server.stop()


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
