"""clients/shell/aws-get-caller-identity.sh: curl signs with --aws-sigv4, the local STS
verifies it (straight, and at AWS's own host through the intercept proxy)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from aws_side.identities import Identity
from tests.aws_side.conftest import ROLE, USER, Intercepted, LocalSts

SCRIPT = Path(__file__).resolve().parents[2] / "clients" / "shell" / "aws-get-caller-identity.sh"
pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


def run(identity: Identity, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    keys = {
        "AWS_ACCESS_KEY_ID": identity.access_key_id,
        "AWS_SECRET_ACCESS_KEY": identity.secret_access_key,
    }
    if identity.session_token:
        keys["AWS_SESSION_TOKEN"] = identity.session_token
    return subprocess.run(
        [str(SCRIPT)], env={**base, **keys, **env}, capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize("arn", [USER, ROLE])
def test_curl_signs_and_gets_the_arn(local_sts: LocalSts, arn: str) -> None:
    done = run(local_sts.identity(arn), AWS_ENDPOINT_URL_STS=local_sts.url, AWS_REGION="eu-west-1")
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stdout.splitlines()[-1] == f"arn: {arn}"
    assert "<GetCallerIdentityResponse" in done.stdout


def test_a_wrong_secret_is_refused_with_awss_error(local_sts: LocalSts) -> None:
    done = run(
        local_sts.identity(USER),
        AWS_ENDPOINT_URL_STS=local_sts.url,
        AWS_SECRET_ACCESS_KEY="x" * 40,
    )
    assert done.returncode == 1
    assert "error: GetCallerIdentity refused: HTTP 403 SignatureDoesNotMatch" in done.stderr
    assert "<Code>SignatureDoesNotMatch</Code>" in done.stdout


def test_a_missing_key_names_the_setting(local_sts: LocalSts) -> None:
    done = run(local_sts.identity(USER), AWS_ACCESS_KEY_ID="")
    assert done.returncode == 1
    assert done.stderr.startswith("error: set AWS_ACCESS_KEY_ID")


def test_the_secret_is_not_on_curls_command_line() -> None:
    text = SCRIPT.read_text()
    assert "--user" not in text and "-u " not in text


def test_curl_at_awss_own_host_through_the_proxy(
    through_proxy: Intercepted, sts_identities
) -> None:
    role = sts_identities.by_arn(ROLE)
    done = run(role, AWS_REGION="eu-west-3", CURL_CA_BUNDLE=str(through_proxy.ca_file))
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stdout.splitlines()[-1] == f"arn: {ROLE}"
    assert through_proxy.proxy.terminated >= 1
