"""Node's @google-cloud/iam-credentials on its default gRPC transport (grpc-js, insecure
channel credentials) against the stand-in's gRPC listener: the calls succeed, and gax reports
Google's code, message and ErrorInfo for the refusals. Skipped without node or clients/node's
packages (.ci/clients-setup.sh installs both)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.mock_gcp.conftest import AUDIENCE, GROUP_SA, JWT_TYPE, NOBODY_SA

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "clients" / "node" / "node_modules"
SCRIPT = Path(__file__).with_name("node_grpc_client.js")
HELP = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


def require_node() -> None:
    """Skipped without node and its packages, unless CI said they must be there."""
    if shutil.which("node") and (MODULES / "@google-cloud" / "iam-credentials").is_dir():
        return
    reason = "needs node and clients/node/node_modules: run .ci/clients-setup.sh"
    if os.environ.get("WIFLAB_REQUIRE_CLIENTS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def node_result(google, issuer, target, tmp_path_factory) -> dict:
    require_node()
    work = tmp_path_factory.mktemp("node-grpc")
    subject = work / "subject.jwt"
    subject.write_text(issuer.mint())
    config = work / "config.json"
    config.write_text(
        json.dumps(
            {
                "type": "external_account",
                "audience": AUDIENCE,
                "subject_token_type": JWT_TYPE,
                "token_url": f"{google.url}/v1/token",
                "credential_source": {"file": str(subject)},
            }
        )
    )
    env = {
        **os.environ,
        "NODE_PATH": str(MODULES),
        "WIFLAB_GRPC_TARGET": target,
        "CREDENTIALS": str(config),
        "SA": GROUP_SA,
        "DENIED_SA": NOBODY_SA,
    }
    done = subprocess.run(
        ["node", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_generate_id_token_and_sign_blob(node_result, google):
    token = node_result["idToken"]["ok"]
    claims = google.backend.issuer.verify(token, audience="https://node.example")
    assert claims["email"] == GROUP_SA
    assert node_result["signBlob"]["ok"]["bytes"] >= 256


def test_permission_denied(node_result):
    error = node_result["denied"]["error"]
    assert error["code"] == 7  # PERMISSION_DENIED
    assert error["details"] == (
        "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist)."
    )
    assert (error["reason"], error["domain"]) == ("IAM_PERMISSION_DENIED", "iam.googleapis.com")
    assert error["metadata"] == {"permission": "iam.serviceAccounts.getOpenIdToken"}


def test_no_credentials(node_result):
    error = node_result["unauthenticated"]["error"]
    assert error["code"] == 16  # UNAUTHENTICATED
    assert error["details"] == f"Request is missing required authentication credential. {HELP}"
    assert error["reason"] == "CREDENTIALS_MISSING"
