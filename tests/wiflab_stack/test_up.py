"""`wiflab up` as users run it: ready line, endpoints.json, the chain through it, clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from google.auth import identity_pool
from google.auth.transport.requests import Request
from google.cloud import iam_credentials_v1

from wiflab_core import endpoints as endpoints_file
from wiflab_core.endpoints import Endpoints
from wiflab_lab.stack import Stack, StackOptions

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "wif.yaml"
SA = "oidc-federated@demo-project.iam.gserviceaccount.com"
SERVICE = "federated-auth-cloud-run"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


WIFLAB_UP = [sys.executable, "-m", "wiflab.cli", "up"]


def run_up(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`wiflab up ARGS` when it is expected to stop by itself (a refusal)."""
    return subprocess.run([*WIFLAB_UP, *args], capture_output=True, text=True, timeout=60, env=env)


def start_up(state_dir: Path, *args: str) -> tuple[subprocess.Popen[str], Endpoints]:
    process = subprocess.Popen(
        [
            *WIFLAB_UP,
            "--topology",
            str(TOPOLOGY),
            "--state-dir",
            str(state_dir),
            "--port-base",
            "0",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    assert line == f"wiflab ready: {state_dir / 'endpoints.json'}\n", process.stderr.read()
    return process, endpoints_file.load(state_dir / "endpoints.json")


def all_urls(endpoints: Endpoints) -> list[str]:
    return [
        endpoints.require_idp().issuer,
        endpoints.sts.token_url,
        *(s.url for s in endpoints.services.values()),
    ]


def refuses_connections(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as sock:
        return sock.connect_ex((parts.hostname, parts.port)) != 0


def seed_001_chain(endpoints: Endpoints) -> dict:
    """The seed's client: federated credential -> generateIdToken -> the service's /dump."""
    config = endpoints.credentials["oidc-pool-run.oidc-provider-1.file"]
    credentials = identity_pool.Credentials.from_file(config).with_scopes([CLOUD_PLATFORM])
    client = iam_credentials_v1.IAMCredentialsClient(
        credentials=credentials,
        transport="rest",
        client_options={"api_endpoint": endpoints.iamcredentials.api_endpoint},
    )
    url = endpoints.services[SERVICE].url
    token = client.generate_id_token(
        name=f"projects/-/serviceAccounts/{SA}", audience=url, include_email=True
    ).token
    response = requests.get(f"{url}/dump", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("mode", "stop_signal"), [("threads", signal.SIGTERM), ("processes", signal.SIGINT)]
)
def test_up_serves_the_chain_and_stops_cleanly(tmp_path, mode, stop_signal):
    process, endpoints = start_up(tmp_path, "--mode", mode)
    try:
        assert endpoints.mode == mode
        dump = seed_001_chain(endpoints)
        assert dump["identity"]["claims"]["email"] == SA
        assert dump["identity"]["verified"] is True
    finally:
        process.send_signal(stop_signal)
        assert process.wait(timeout=30) == 0
    assert all(refuses_connections(url) for url in all_urls(endpoints))


def test_credential_files_and_secrets_are_private(tmp_path):
    with Stack(StackOptions(TOPOLOGY, tmp_path, port_base=0)) as stack:
        paths = [Path(p) for p in stack.endpoints.credentials.values()]
        assert {p.name for p in paths} >= {
            "oidc-pool-run.oidc-provider-1.file.json",
            "oidc-pool-run.oidc-provider-1.url.oidc-federated.json",
            "tenant-pool.tenant-provider.file.bigquery-runner.json",
        }
        secret = Path(stack.endpoints.require_idp().admin_secret_file)
        token = tmp_path / "credentials" / "oidc-pool-run.oidc-provider-1.subject-token"
        for private in (secret, token, stack.endpoints_path):
            assert private.stat().st_mode & 0o077 == 0


def test_two_stacks_on_ephemeral_ports_do_not_clash(tmp_path):
    with (
        Stack(StackOptions(TOPOLOGY, tmp_path / "a", port_base=0)) as a,
        Stack(StackOptions(TOPOLOGY, tmp_path / "b", port_base=0)) as b,
    ):
        assert set(all_urls(a.endpoints)).isdisjoint(all_urls(b.endpoints))
        assert seed_001_chain(a.endpoints)["identity"]["claims"]["email"] == SA
        assert seed_001_chain(b.endpoints)["identity"]["claims"]["email"] == SA


def test_fixed_ports_follow_the_port_base(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
    # A free port is not a free range: pick a base below Linux's ephemeral range (32768+),
    # where nothing else in this suite binds, and skip if something holds it anyway.
    base = 20000 + base % 9000
    try:
        stack = Stack(StackOptions(TOPOLOGY, tmp_path, port_base=base)).__enter__()
    except OSError:
        pytest.skip(f"ports from {base} are in use")
    try:
        assert stack.endpoints.require_idp().issuer == f"http://127.0.0.1:{base}"
        assert stack.endpoints.iamcredentials.api_endpoint == f"http://127.0.0.1:{base + 1}"
        assert stack.endpoints.services[SERVICE].url == f"http://127.0.0.1:{base + 10}"
    finally:
        stack.stop()


def test_bad_topology_exits_2_before_opening_ports(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        TOPOLOGY.read_text().replace(
            "google.subject: assertion.sub", "google.sub: assertion.sub", 1
        )
    )
    done = run_up("--topology", str(bad), "--state-dir", str(tmp_path / "s"))
    assert done.returncode == 2
    assert "pools[0].providers[0].attributeMapping" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "s" / "endpoints.json").exists()


def test_missing_topology_file_exits_2(tmp_path):
    done = run_up("--topology", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2
    assert "nope.yaml" in done.stderr


def test_url_sourced_impersonated_credential(tmp_path):
    """The IdP's profile route mints with each provider's aud; impersonation yields SA tokens."""
    with Stack(StackOptions(TOPOLOGY, tmp_path, port_base=0)) as stack:
        config = stack.endpoints.credentials["oidc-pool-run.oidc-provider-1.url.oidc-federated"]
        # With the email scope, or tokeninfo does not name the account.
        credentials = identity_pool.Credentials.from_file(config).with_scopes(
            [CLOUD_PLATFORM, "https://www.googleapis.com/auth/userinfo.email"]
        )
        credentials.refresh(Request())
        info = requests.get(
            stack.endpoints.google_issuer.tokeninfo,
            params={"access_token": credentials.token},
        ).json()
        assert info["email"] == SA


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_google_issuer_setting_for_relying_parties_that_insist(tmp_path, mode):
    options = StackOptions(
        TOPOLOGY, tmp_path, mode=mode, port_base=0, google_issuer="https://accounts.google.com"
    )
    with Stack(options) as stack:
        dump = seed_001_chain(stack.endpoints)
        assert dump["identity"]["claims"]["iss"] == "https://accounts.google.com"
        assert stack.endpoints.google_issuer.issuer == "https://accounts.google.com"


def test_beyond_loopback_the_idp_needs_a_token_secret(tmp_path):
    done = run_up(
        "--topology",
        str(TOPOLOGY),
        "--state-dir",
        str(tmp_path),
        "--host",
        "0.0.0.0",
        env={k: v for k, v in os.environ.items() if k != "IDP_TOKEN_SECRET"},
    )
    assert done.returncode == 2
    assert "set IDP_TOKEN_SECRET" in done.stderr
    assert not (tmp_path / "endpoints.json").exists()


def test_a_guarded_idp_still_feeds_the_credentials(tmp_path):
    """With a /token secret, minting needs it; the configs carry it for url sources."""
    options = StackOptions(TOPOLOGY, tmp_path, port_base=0, idp_token_secret="s3cret")
    with Stack(options) as stack:
        endpoints = stack.endpoints
        anonymous = requests.post(endpoints.require_idp().token_url, json={"sub": "x"})
        assert anonymous.status_code == 401
        assert seed_001_chain(endpoints)["identity"]["claims"]["email"] == SA
        config = stack.endpoints.credentials["oidc-pool-run.oidc-provider-1.url.oidc-federated"]
        credentials = identity_pool.Credentials.from_file(config).with_scopes([CLOUD_PLATFORM])
        credentials.refresh(Request())
        assert credentials.token.startswith("ya29.c.")


def test_up_prints_the_flow_explorer_and_it_serves_the_page(tmp_path):
    process, endpoints = start_up(tmp_path)
    try:
        line = process.stdout.readline()
        assert endpoints.explorer is not None
        assert line.startswith(f"wiflab explorer: {endpoints.explorer.url}/")
        assert endpoints.explorer.url.startswith("http://127.0.0.1:")
        page = requests.get(f"{endpoints.explorer.url}/", timeout=10)
        assert page.status_code == 200
        assert "wiflab flow explorer" in page.text
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
