"""Intercept mode (``wiflab up --intercept``): unchanged client code, Google's default URLs
everywhere, no endpoint setting anywhere; the plugin's ``wif_intercept`` fixture sets the
proxy and CA variables (what ``eval "$(wiflab env)"`` sets in a shell).

Each test reaches the stand-in only through the proxy: a client that ignored it would try the
real Google and fail (no account, no network).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import google.auth
import pytest
import requests
from google.auth import identity_pool, impersonated_credentials
from google.auth.transport.requests import Request
from google.cloud import iam_credentials_v1
from google.oauth2 import id_token

from wiflab_lab.testing import WifStack

SERVICE = "federated-auth-cloud-run"
PROVIDER = "oidc-pool-run/oidc-provider-1"
FEDERATED = "oidc-pool-run.oidc-provider-1.file"
# The account alice may get ID tokens for (workloadIdentityUser) and that may invoke SERVICE.
INVOKER = "oidc-federated@demo-project.iam.gserviceaccount.com"
# The account alice may call every IAM Credentials method of (Token Creator).
SIGNER = "target-serviceaccount@demo-project.iam.gserviceaccount.com"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
# REST until IAM Credentials over gRPC is served (branch i14-grpc): then the default transport.
IAM_TRANSPORT = "rest"


@pytest.fixture(autouse=True)
def _local_only(pytestconfig: pytest.Config) -> None:
    if pytestconfig.getoption("--target") == "gcp":
        pytest.skip("intercept mode is the local stand-in's: against Google nothing is intercepted")


@pytest.fixture
def federated_config(wif_intercept: WifStack, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The ready-made federated config, as GOOGLE_APPLICATION_CREDENTIALS."""
    path = Path(wif_intercept.endpoints.credentials[FEDERATED])
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    return path


def test_the_endpoints_name_only_googles_urls(wif_intercept: WifStack) -> None:
    endpoints = wif_intercept.endpoints
    assert endpoints.sts.token_url == "https://sts.googleapis.com/v1/token"
    assert endpoints.iamcredentials.api_endpoint == "https://iamcredentials.googleapis.com"
    assert endpoints.google_issuer.issuer == "https://accounts.google.com"
    assert endpoints.google_issuer.certs_v1 == "https://www.googleapis.com/oauth2/v1/certs"
    assert endpoints.service_url(SERVICE).endswith("-uc.a.run.app")
    for path in endpoints.credentials.values():
        config = json.loads(Path(path).read_text())
        assert config["token_url"] == "https://sts.googleapis.com/v1/token"
        assert "127.0.0.1" not in config.get("service_account_impersonation_url", "")


def test_the_chain_through_google_auth_and_google_cloud_iam_with_no_endpoint(
    wif_intercept: WifStack, federated_config: Path
) -> None:
    """ADC finds the project at Cloud Resource Manager; IAMCredentialsClient() at its default
    endpoint mints an ID token; the Cloud Run service at its run.app URL lets it in."""
    credentials, project = google.auth.default(scopes=[CLOUD_PLATFORM])
    assert project == wif_intercept.topology.project_id
    client = iam_credentials_v1.IAMCredentialsClient(
        credentials=credentials, transport=IAM_TRANSPORT
    )
    url = wif_intercept.service_url(SERVICE)
    token = client.generate_id_token(
        name=f"projects/-/serviceAccounts/{INVOKER}", audience=url, include_email=True
    ).token
    answer = requests.get(f"{url}/dump", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["cloud_run"]["K_SERVICE"] == SERVICE


def test_impersonated_id_tokens_and_sign_bytes_at_their_fixed_urls(
    wif_intercept: WifStack, federated_config: Path
) -> None:
    """IDTokenCredentials and sign_bytes always call https://iamcredentials.googleapis.com."""
    source = identity_pool.Credentials.from_file(str(federated_config), scopes=[CLOUD_PLATFORM])
    signer = impersonated_credentials.Credentials(
        source, target_principal=SIGNER, target_scopes=[CLOUD_PLATFORM]
    )
    assert len(signer.sign_bytes(b"signed through the proxy")) == 256
    invoker = impersonated_credentials.Credentials(
        source, target_principal=INVOKER, target_scopes=[CLOUD_PLATFORM]
    )
    url = wif_intercept.service_url(SERVICE)
    ids = impersonated_credentials.IDTokenCredentials(
        invoker, target_audience=url, include_email=True
    )
    ids.refresh(Request())
    claims = id_token.verify_oauth2_token(ids.token, Request(), audience=url)
    assert claims["email"] == INVOKER
    answer = requests.get(
        f"{url}/dump", headers={"Authorization": f"Bearer {ids.token}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text


def test_a_relying_party_with_default_settings_verifies_the_token(
    wif_intercept: WifStack, federated_config: Path
) -> None:
    """verify_oauth2_token: Google's certs URL and issuer, nothing configured."""
    credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
    client = iam_credentials_v1.IAMCredentialsClient(
        credentials=credentials, transport=IAM_TRANSPORT
    )
    token = client.generate_id_token(
        name=f"projects/-/serviceAccounts/{INVOKER}",
        audience="https://relying.example",
        include_email=True,
    ).token
    claims = id_token.verify_oauth2_token(token, Request(), audience="https://relying.example")
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["email"] == INVOKER
    discovery = requests.get(
        "https://accounts.google.com/.well-known/openid-configuration", timeout=30
    ).json()
    assert discovery["jwks_uri"] == "https://www.googleapis.com/oauth2/v3/certs"
    assert discovery["issuer"] == "https://accounts.google.com"
    with pytest.raises(ValueError, match="audience"):
        id_token.verify_oauth2_token(token, Request(), audience="https://someone-else.example")


def test_gcloud_print_identity_token_without_an_endpoint_override(
    wif_intercept: WifStack, federated_config: Path, tmp_path: Path
) -> None:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        pytest.skip("the Google Cloud CLI (gcloud) is not installed")
    env = {
        **os.environ,
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "1",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [gcloud, "--quiet", *args], env=env, capture_output=True, text=True, timeout=180,
            check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    login = run("auth", "login", f"--cred-file={federated_config}")
    assert login.returncode == 0, login.stderr
    url = wif_intercept.service_url(SERVICE)
    printed = run(
        "auth", "print-identity-token", f"--impersonate-service-account={INVOKER}",
        "--include-email", f"--audiences={url}",
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    claims = id_token.verify_oauth2_token(printed.stdout.strip(), Request(), audience=url)
    assert claims["email"] == INVOKER
