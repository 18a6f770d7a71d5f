"""What Google's STS accepts, accepted through the official clients (fidelity, second round).

- A subject token with whitespace around it, from every credential source: Google's own
  pipeline guide writes token files with ``echo $TOKEN > file`` and google-auth Python sends
  the file as read (trailing newline included).
- Long-lived subject tokens: no cap on ``exp - iat`` (R-GCP: 25 h, 1 y, 11 y accepted).
- ``options`` up to 4 MiB and the access-boundary intermediary token type (sts.v1.json);
  no client library sends these, so plain HTTP.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from google.auth import identity_pool, pluggable
from google.auth.transport.requests import Request

from e2e.lab_topology import FORGE_ISSUER, FORGE_PROVIDER
from e2e.names import LAB_PROVIDER, TARGET_SA
from wiflab_core.serving import ThreadedServer

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
INTERMEDIARY = "urn:ietf:params:oauth:token-type:access_boundary_intermediary_token"


def _works(wif_stack, credentials) -> None:
    """The federated token google-auth got is one IAM Credentials honours."""
    credentials.refresh(Request())
    assert credentials.token
    account = wif_stack.account(TARGET_SA)
    signed = wif_stack.iam_client(credentials).sign_jwt(
        name=f"projects/-/serviceAccounts/{account}", payload='{"sub": "fidelity"}'
    )
    assert signed.signed_jwt.count(".") == 2


@pytest.mark.parametrize(
    "write",
    [
        pytest.param('echo "$TOKEN" > "$FILE"', id="echo"),
        pytest.param('printf "%s\\r\\n" "$TOKEN" > "$FILE"', id="crlf"),
        pytest.param('printf "  %s  \\n" "$TOKEN" > "$FILE"', id="surrounding-spaces"),
    ],
)
def test_a_token_file_written_by_the_shell_is_accepted(
    wif_stack, external_account_info, tmp_path: Path, write: str
) -> None:
    info = external_account_info(LAB_PROVIDER, "file", profile="alice")
    path = Path(info["credential_source"]["file"])
    token = path.read_text()
    # The config from the stack's credentials, its file rewritten as a pipeline would.
    env = {"TOKEN": token, "FILE": str(path), "PATH": "/usr/bin:/bin"}
    subprocess.run(["sh", "-c", write], env=env, check=True)
    assert path.read_text() != token and path.read_text().strip() == token
    _works(wif_stack, identity_pool.Credentials.from_info(info, scopes=[CLOUD_PLATFORM]))


def _padded_text_server(token: str) -> ThreadedServer:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f" {token}\r\n".encode()]

    return ThreadedServer(app).start()


def test_a_url_source_answering_with_whitespace_is_accepted(
    wif_stack, external_account_info, mint_token
) -> None:
    server = _padded_text_server(mint_token("alice", provider=LAB_PROVIDER))
    try:
        info = external_account_info(LAB_PROVIDER, "file", profile="alice")
        info["credential_source"] = {"url": server.url + "/token", "format": {"type": "text"}}
        _works(wif_stack, identity_pool.Credentials.from_info(info, scopes=[CLOUD_PLATFORM]))
    finally:
        server.stop()


def test_an_executable_printing_whitespace_around_the_token_is_accepted(
    wif_stack, external_account_info, mint_token, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1")
    token = mint_token("alice", provider=LAB_PROVIDER)
    response = {
        "version": 1,
        "success": True,
        "token_type": "urn:ietf:params:oauth:token-type:id_token",
        "id_token": f"  {token}\n",
        "expiration_time": int(time.time()) + 600,
    }
    script = tmp_path / "print-token.py"
    script.write_text(f"import sys\nsys.stdout.write({json.dumps(response)!r} + '\\n')\n")
    info = external_account_info(LAB_PROVIDER, "file", profile="alice")
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    info["credential_source"] = {"executable": {"command": command, "timeout_millis": 30000}}
    _works(wif_stack, pluggable.Credentials.from_info(info, scopes=[CLOUD_PLATFORM]))


@pytest.mark.wif_requires(providers=[FORGE_PROVIDER])
@pytest.mark.parametrize(
    "lifetime",
    [25 * 3600, 365 * 86400, 11 * 365 * 86400],
    ids=["25h", "1y", "11y"],
)
def test_long_lived_subject_tokens_are_accepted(chain, lifetime: int) -> None:
    now = int(time.time())
    claims = chain.claims(provider=FORGE_PROVIDER, iss=FORGE_ISSUER, iat=now, exp=now + lifetime)
    credentials = chain.credentials(FORGE_PROVIDER, subject_token=chain.forge_key.sign(claims))
    credentials.refresh(Request())
    assert credentials.token
    # The federated token still lives an hour at most.
    assert credentials.expiry.timestamp() - time.time() <= 3600 + 5


def test_options_of_four_mebibytes_are_accepted(chain) -> None:
    options = json.dumps({"userProject": "p", "x": "y" * (4 * 1024 * 1024 - 64)})
    response = chain.sts(options=options)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["token_type"] == "Bearer"


def test_the_access_boundary_intermediary_token_type_is_accepted(chain) -> None:
    response = chain.sts(requested_token_type=INTERMEDIARY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["issued_token_type"] == INTERMEDIARY
    assert body["access_boundary_session_key"]
