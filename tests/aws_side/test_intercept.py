"""Intercept mode for AWS: boto3 and google-auth, unchanged (no endpoint_url, AWS's own
hosts, the metadata IP), reach the local AWS side through the proxy and the lab CA."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from cryptography import x509
from google.auth import aws
from google.auth.transport.requests import Request

from aws_side.identities import Identities
from tests.aws_side.conftest import ROLE, USER, Intercepted, gcloud_aws_config
from wiflab_lab.intercept import routes as intercept_routes
from wiflab_lab.intercept.ca import LocalCA, name_constraints, permits
from wiflab_lab.intercept.routes import AWS_STS_REGIONS


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_boto3_reaches_sts_at_its_own_host(
    through_proxy: Intercepted, sts_identities: Identities, region: str
) -> None:
    alice = sts_identities.by_arn(USER)
    assert alice is not None
    client = boto3.client(
        "sts",
        region_name=region,
        aws_access_key_id=alice.access_key_id,
        aws_secret_access_key=alice.secret_access_key,
        config=Config(retries={"max_attempts": 1}),
    )
    assert client.meta.endpoint_url == f"https://sts.{region}.amazonaws.com"
    before = through_proxy.proxy.terminated
    assert client.get_caller_identity()["Arn"] == USER
    assert through_proxy.proxy.terminated == before + 1


def test_imds_at_the_metadata_address_over_http_proxy(through_proxy: Intercepted) -> None:
    token = requests.put(
        "http://169.254.169.254/latest/api/token",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"},
        timeout=10,
    )
    assert token.status_code == 200
    role = requests.get(
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        headers={"X-aws-ec2-metadata-token": token.text},
        timeout=10,
    )
    assert role.text == "ec2-role"
    # The same address's Google paths still reach Google's metadata server.
    google = requests.get(
        "http://169.254.169.254/computeMetadata/v1/project/project-id",
        headers={"Metadata-Flavor": "Google"},
        timeout=10,
    )
    assert google.json()["server"] == "google"


def test_google_auth_with_gclouds_config_unchanged(
    through_proxy: Intercepted, sts_identities: Identities
) -> None:
    """The credential_source gcloud writes for `--aws --enable-imdsv2`, byte for byte."""
    credentials = aws.Credentials.from_info(gcloud_aws_config())
    signed = json.loads(urllib.parse.unquote(credentials.retrieve_subject_token(Request())))
    assert signed["url"].startswith("https://sts.eu-west-3.amazonaws.com?")
    # Google's STS would send it to AWS: here through the proxy, to AWS's host, as signed.
    headers = {h["key"]: h["value"] for h in signed["headers"]}
    response = requests.request(signed["method"], signed["url"], headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert f"<Arn>{ROLE}</Arn>" in response.text


def test_the_ca_vouches_for_sts_hosts_by_name_only() -> None:
    assert permits("sts.amazonaws.com") and permits("sts.eu-west-3.amazonaws.com")
    for other in ("s3.amazonaws.com", "amazonaws.com", "iam.amazonaws.com", "sts.example.com"):
        assert not permits(other), other
    dns = {
        n.value for n in name_constraints().permitted_subtrees or [] if isinstance(n, x509.DNSName)
    }
    assert "amazonaws.com" not in dns


def test_a_ca_made_before_the_aws_hosts_is_made_again(tmp_path: Path) -> None:
    import wiflab_lab.intercept.ca as ca_module

    original = ca_module.PERMITTED_DNS
    try:
        ca_module.PERMITTED_DNS = original[:4]
        old = LocalCA.load_or_create(tmp_path)
    finally:
        ca_module.PERMITTED_DNS = original
    new = LocalCA.load_or_create(tmp_path)
    assert new.certificate != old.certificate
    assert new.leaf("sts.us-east-1.amazonaws.com").host == "sts.us-east-1.amazonaws.com"


def test_the_sts_regions_are_botocores() -> None:
    import botocore.session

    assert set(AWS_STS_REGIONS) == set(botocore.session.Session().get_available_regions("sts"))
    assert intercept_routes.AWS_STS_HOSTS[0] == "sts.amazonaws.com"
