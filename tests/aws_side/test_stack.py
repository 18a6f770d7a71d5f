"""The AWS side in the lab's stack: two parts on loopback (threads and processes), the keys in
state/aws/credentials.json and endpoints.json (both 0600), boto3 and IMDS through them."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
import yaml
from botocore.config import Config

from tests.aws_side.conftest import ROLE, USER
from wiflab_core import endpoints as endpoints_file
from wiflab_lab.stack import Stack, StackOptions

REPO = Path(__file__).resolve().parents[2]


def aws_topology(directory: Path) -> Path:
    doc = yaml.safe_load((REPO / "wif.yaml").read_text())
    doc.setdefault("local", {})["aws"] = {
        "identities": [{"arn": USER}, {"arn": ROLE, "imds": True}]
    }
    path = directory / "wif-aws.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module", params=["threads", "processes"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp(f"aws-{request.param}")
    options = StackOptions(
        aws_topology(directory),
        directory / "state",
        mode=request.param,
        port_base=0,
        explorer=False,
        google_workers=1,
    )
    with Stack(options) as running:
        yield running


def test_endpoints_name_the_aws_side_on_loopback(stack: Stack) -> None:
    aws = stack.endpoints.aws
    assert aws is not None
    assert aws.sts_url.startswith("http://127.0.0.1:")
    assert aws.imds_url is not None and aws.imds_url.startswith("http://127.0.0.1:")
    assert set(aws.identities) == {USER, ROLE}
    assert aws.identities[USER].access_key_id.startswith("AKIA")
    assert aws.identities[USER].session_token is None
    assert aws.identities[ROLE].access_key_id.startswith("ASIA")
    assert aws.identities[ROLE].session_token


def test_keys_live_in_files_only_their_owner_reads(stack: Stack) -> None:
    aws = stack.endpoints.aws
    assert aws is not None and aws.credentials_file is not None
    for path in (Path(aws.credentials_file), stack.endpoints_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    written = endpoints_file.load(stack.endpoints_path).to_json()["aws"]
    assert written["identities"][ROLE].keys() == {"accessKeyId", "secretAccessKey", "sessionToken"}


@pytest.mark.parametrize("arn", [USER, ROLE])
def test_boto3_with_the_listed_keys_gets_the_arn(stack: Stack, arn: str) -> None:
    aws = stack.endpoints.aws
    assert aws is not None
    keys = aws.identities[arn]
    client = boto3.client(
        "sts",
        endpoint_url=aws.sts_url,
        region_name="us-east-1",
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        aws_session_token=keys.session_token,
        config=Config(retries={"max_attempts": 1}),
    )
    assert client.get_caller_identity()["Arn"] == arn


def test_imds_serves_the_instance_roles_keys(stack: Stack) -> None:
    aws = stack.endpoints.aws
    assert aws is not None and aws.imds_url is not None
    token = requests.put(
        f"{aws.imds_url}/latest/api/token",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"},
        timeout=10,
    ).text
    headers = {"X-aws-ec2-metadata-token": token}
    base = f"{aws.imds_url}/latest/meta-data/iam/security-credentials/"
    role = requests.get(base, headers=headers, timeout=10).text
    assert role == "ec2-role"
    creds = requests.get(base + role, headers=headers, timeout=10).json()
    assert creds["AccessKeyId"] == aws.identities[ROLE].access_key_id
    assert creds["Token"] == aws.identities[ROLE].session_token
