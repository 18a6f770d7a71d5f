"""``wiflab demo --profile aws:NAME``: seed 004's AWS callers, one step at a time, against a
real local stack (its AWS side on loopback), as a user runs it."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.wiflab_demo.conftest import run_demo
from wiflab_lab.stack import Stack

ACCOUNT = "aws-federated@demo-project.iam.gserviceaccount.com"
POOL = "projects/123456789012/locations/global/workloadIdentityPools/aws-pool-1"
USER = "arn:aws:iam::111122223333:user/svcacct1"
ROLE = "arn:aws:sts::111122223333:assumed-role/ec2role/i-01eb8a107a2026dcd"
# An AWS secret access key: 40 characters of base64 (AWS's format); a SigV4 signature: 64 hex.
SECRET = re.compile(r"(?<![\w+/])[A-Za-z0-9+/]{40}(?![\w+/=])")
SIGNATURE = re.compile(r"Signature=[0-9a-f]{64}")


@pytest.fixture(scope="module")
def svcacct1_run() -> subprocess.CompletedProcess[str]:
    """The IAM user's demo, as `make demo` runs it (the stack started for it)."""
    return run_demo("--profile", "aws:svcacct1")


def _json_run(stack: Stack, profile: str) -> dict:
    result = run_demo("--endpoints", str(stack.endpoints_path), "--profile", profile, "--json")
    assert "Traceback" not in result.stderr
    doc: dict = json.loads(result.stdout)
    assert result.returncode == (0 if doc["ok"] else 1), result.stderr
    aws = stack.endpoints.aws
    assert aws is not None
    for keys in aws.identities.values():  # no identity's secret, whoever signed
        assert keys.secret_access_key not in result.stdout + result.stderr
        if keys.session_token:
            assert keys.session_token not in result.stdout + result.stderr
    return doc


def test_iam_user_signs_with_env_keys_and_reaches_dump(
    svcacct1_run: subprocess.CompletedProcess[str],
) -> None:
    assert svcacct1_run.returncode == 0, svcacct1_run.stderr
    out = svcacct1_run.stdout
    positions = [out.index(f"── Step {n}/5 · ") for n in range(1, 6)]
    assert positions == sorted(positions)
    step1 = out[positions[0] : positions[1]]
    assert "Sign AWS STS GetCallerIdentity" in step1
    assert "→ POST https://sts.us-east-1.amazonaws.com?Action=GetCallerIdentity" in step1
    assert "Authorization: AWS4-HMAC-SHA256 Credential=AKIA" in step1
    target = f"//iam.googleapis.com/{POOL}/providers/aws-provider-1"
    assert f"x-goog-cloud-target-resource: {target}" in step1
    # What AWS's STS answered: who signed it.
    assert re.search(rf"Arn\s+{re.escape(USER)}", step1)
    assert re.search(r"Account\s+111122223333", step1)
    assert "keys from the environment" in step1
    step2 = out[positions[1] : positions[2]]
    assert "subject_token_type    urn:ietf:params:aws:token-type:aws4_request" in step2
    assert "✓ AWS's answer: Google's STS sent the request to AWS" in step2
    assert f'assertion.arn = "{USER}"' in step2
    assert "✓ AWS account: 111122223333 is the provider's aws.accountId" in step2
    assert f"principal://iam.googleapis.com/{POOL}/subject/{USER}" in step2
    saw = out[out.index("── What /dump saw") :]
    assert re.search(rf"caller\s+{re.escape(ACCOUNT)}", saw)
    assert "verified, by Cloud Run front end" in saw
    assert "signed GetCallerIdentity, verified by AWS" in saw


def test_the_signed_request_is_shown_but_never_usable(
    svcacct1_run: subprocess.CompletedProcess[str],
) -> None:
    out = svcacct1_run.stdout + svcacct1_run.stderr
    assert SIGNATURE.search(out) is None
    assert re.search(r"Signature=[0-9a-f]{8}… \(64 chars\)", out)
    assert SECRET.search(out) is None, SECRET.search(out)
    assert "AWS_SECRET_ACCESS_KEY never shown" in out
    # The serialized request (it carries the signature) is shortened in the STS form.
    assert re.search(r"subject_token\s+%7B\S*…\S* \(\d+ chars\)", out)


def test_try_next_lists_the_aws_profiles(svcacct1_run: subprocess.CompletedProcess[str]) -> None:
    nxt = svcacct1_run.stdout[svcacct1_run.stdout.index("── Next") :]
    assert re.search(r"wiflab demo --profile aws:ec2role\s+passes, as aws-federated", nxt)
    assert re.search(r"wiflab demo --profile aws:outsider\s+STS refuses: AWS account", nxt)
    assert re.search(r"wiflab demo --profile aws:intern\s+STS refuses: attribute condition", nxt)
    assert "wiflab demo --profile alice" in nxt
    assert "--profile aws:svcacct1 " not in nxt  # not the one just run


def test_ec2_role_signs_with_the_imds_keys_and_reaches_dump(running_stack: Stack) -> None:
    doc = _json_run(running_stack, "aws:ec2role")
    assert doc["ok"] is True
    assert [s["key"] for s in doc["steps"]] == ["sign", "sts", "id_token", "access_token", "dump"]
    assert doc["plan"]["aws"] == {"arn": ROLE, "imds": True}
    sign = doc["steps"][0]
    headers = sign["request"]["headers"]
    # Temporary keys (ASIA...) and their session token: the IMDSv2's, not the environment's.
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIA")
    assert "x-amz-security-token" in headers["Authorization"]
    assert headers["x-amz-security-token"].endswith("chars)")
    assert any("IMDSv2 session token" in note for note in sign["notes"])
    assert f"<Arn>{ROLE}</Arn>" in sign["response"]["body"]
    sts = doc["steps"][1]
    mapping = next(c for c in sts["decision"] if c["rule"] == "attribute mapping")
    assert mapping["data"]["attributes"]["aws_role"] == (
        "arn:aws:sts::111122223333:assumed-role/ec2role"
    )
    assert doc["dump"]["email"] == ACCOUNT
    assert doc["dump"]["verified"] is True


def test_another_aws_account_is_refused_at_sts_with_the_account_check(
    running_stack: Stack,
) -> None:
    doc = _json_run(running_stack, "aws:outsider")
    assert doc["ok"] is False and doc["failedStep"] == 2
    assert [s["key"] for s in doc["steps"]] == ["sign", "sts"]
    sign, sts = doc["steps"]
    assert sign["ok"] is True  # AWS itself knows the outsider: its signature is good
    assert "<Account>444455556666</Account>" in sign["response"]["body"]
    assert sts["response"]["status"] == 400
    assert sts["error"]["code"] == "invalid_grant"
    # unverified (README's fidelity table): Google's text for another account.
    assert sts["error"]["message"] == (
        "The AWS account 444455556666 of the caller is not the provider's account."
    )
    account = sts["decision"][-1]
    assert account == {
        "rule": "AWS account",
        "passed": False,
        "text": "the caller's account \"444455556666\" is not the provider's aws.accountId "
        '"111122223333"',
    }
    assert "nearest miss: aws.account: 444455556666 (expected 111122223333)" in sts["notes"]
    assert any("--account-id=" in hint for hint in sts["hints"])
    assert doc["plan"]["serviceAccount"] == ACCOUNT  # the account its pool's callers use


def test_intern_is_refused_by_the_condition(running_stack: Stack) -> None:
    doc = _json_run(running_stack, "aws:intern")
    sts = doc["steps"][1]
    assert sts["error"]["code"] == "unauthorized_client"
    assert sts["error"]["message"] == "The given credential is rejected by the attribute condition."
    assert any("providers update-aws aws-provider-1" in hint for hint in sts["hints"])


def test_an_unknown_aws_profile_exits_2_naming_the_known_ones() -> None:
    result = run_demo("--profile", "aws:nobody")
    assert result.returncode == 2
    assert "--profile: 'aws:nobody' is not an AWS identity (known: aws:svcacct1, aws:ec2role" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
