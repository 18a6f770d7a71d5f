"""The local EC2 instance metadata service (IMDSv2) as clients use it: google-auth's own
``aws.Credentials`` finds its region and role keys there, and the request it signs with them
passes the local STS."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests
from google.auth import aws
from google.auth.transport.requests import Request
from hypothesis import given, settings
from hypothesis import strategies as st

from aws_side.identities import Identities
from aws_side.imds import InstanceMetadata
from aws_side.imds_http import create_imds_app
from tests.aws_side.conftest import ROLE, Clock, LocalSts, gcloud_aws_config
from wiflab_core.serving import ThreadedServer

TTL = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN = "X-aws-ec2-metadata-token"
AUDIENCE = (
    "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/aws/providers/ec2"
)


@dataclass
class LocalImds:
    url: str
    clock: Clock


@pytest.fixture
def imds(sts_identities: Identities) -> Iterator[LocalImds]:
    clock = Clock()
    metadata = InstanceMetadata(sts_identities.instance, "eu-west-3")
    with ThreadedServer(create_imds_app(metadata, clock)) as server:
        yield LocalImds(server.url, clock)


def session_token(imds: LocalImds, ttl: str = "300") -> str:
    response = requests.put(f"{imds.url}/latest/api/token", headers={TTL: ttl}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers[TTL] == ttl
    return response.text


def get(imds: LocalImds, path: str, token: str | None) -> requests.Response:
    headers = {TOKEN: token} if token is not None else {}
    return requests.get(f"{imds.url}{path}", headers=headers, timeout=10)


def test_region_and_zone(imds: LocalImds) -> None:
    token = session_token(imds)
    assert get(imds, "/latest/meta-data/placement/availability-zone", token).text == "eu-west-3a"
    assert get(imds, "/latest/meta-data/placement/region", token).text == "eu-west-3"


def test_the_roles_credentials_as_aws_writes_them(
    imds: LocalImds, sts_identities: Identities
) -> None:
    role = sts_identities.instance
    assert role is not None and role.expiration is not None
    token = session_token(imds)
    assert get(imds, "/latest/meta-data/iam/security-credentials/", token).text == "ec2-role"
    response = get(imds, "/latest/meta-data/iam/security-credentials/ec2-role", token)
    assert response.status_code == 200
    assert json.loads(response.text) == {
        "Code": "Success",
        "LastUpdated": response.json()["LastUpdated"],
        "Type": "AWS-HMAC",
        "AccessKeyId": role.access_key_id,
        "SecretAccessKey": role.secret_access_key,
        "Token": role.session_token,
        "Expiration": role.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    # AWS's layout, which some clients scrape: `"Code" : "Success",` lines.
    assert '  "Code" : "Success",\n' in response.text
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", response.json()["LastUpdated"])


def test_another_role_name_is_not_found(imds: LocalImds) -> None:
    response = get(imds, "/latest/meta-data/iam/security-credentials/admin", session_token(imds))
    assert response.status_code == 404
    assert "<title>404 - Not Found</title>" in response.text


def test_imdsv2_required_a_get_without_a_token_is_401(imds: LocalImds) -> None:
    response = get(imds, "/latest/meta-data/placement/region", None)
    assert response.status_code == 401
    assert "<h1>401 - Unauthorized</h1>" in response.text


def test_a_forged_or_expired_token_is_401(imds: LocalImds) -> None:
    token = session_token(imds, "60")
    assert get(imds, "/latest/meta-data/placement/region", token[:-2] + "AA").status_code == 401
    imds.clock.pinned = datetime.now(UTC) + timedelta(seconds=61)
    assert get(imds, "/latest/meta-data/placement/region", token).status_code == 401


@pytest.mark.parametrize("ttl", ["0", "21601", "-1", "abc", "", "1e3", "300.5"])
def test_a_ttl_outside_1_to_21600_is_400(imds: LocalImds, ttl: str) -> None:
    response = requests.put(f"{imds.url}/latest/api/token", headers={TTL: ttl}, timeout=10)
    assert response.status_code == 400
    assert "<title>400 - Bad Request</title>" in response.text


@pytest.mark.parametrize("ttl", ["1", "21600"])
def test_the_ttl_bounds_are_accepted(imds: LocalImds, ttl: str) -> None:
    assert session_token(imds, ttl)


def test_a_token_request_without_a_ttl_is_400(imds: LocalImds) -> None:
    assert requests.put(f"{imds.url}/latest/api/token", timeout=10).status_code == 400


def test_imdsv1_when_allowed(sts_identities: Identities) -> None:
    metadata = InstanceMetadata(sts_identities.instance, "us-east-1", require_token=False)
    client = create_imds_app(metadata).test_client()
    assert client.get("/latest/meta-data/placement/region").get_data(as_text=True) == "us-east-1"
    # A token sent must still be a good one.
    bad = client.get("/latest/meta-data/placement/region", headers={TOKEN: "x"})
    assert bad.status_code == 401


@settings(max_examples=200, deadline=None)
@given(
    path=st.text(max_size=80).map(lambda p: "/" + p.lstrip("/")),
    token=st.one_of(
        st.none(), st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=80)
    ),
    ttl=st.one_of(
        st.none(), st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=12)
    ),
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE"]),
)
def test_no_input_gets_a_5xx(sts_identities: Identities, path, token, ttl, method) -> None:
    client = create_imds_app(InstanceMetadata(sts_identities.instance, "us-east-1")).test_client()
    headers = {k: v for k, v in ((TOKEN, token), (TTL, ttl)) if v is not None}
    response = client.open(urllib.parse.quote(path), method=method, headers=headers)
    assert response.status_code < 500


def test_google_auth_finds_region_and_role_keys_with_an_imdsv2_token(
    imds: LocalImds, local_sts: LocalSts, no_aws_environment: None
) -> None:
    credentials = aws.Credentials.from_info(gcloud_aws_config(imds.url))
    subject = credentials.retrieve_subject_token(Request())
    signed = json.loads(urllib.parse.unquote(subject))
    assert signed["url"] == (
        "https://sts.eu-west-3.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
    )
    headers = {h["key"]: h["value"] for h in signed["headers"]}
    role = local_sts.identity(ROLE)
    assert headers["x-amz-security-token"] == role.session_token
    assert f"Credential={role.access_key_id}/" in headers["Authorization"]
    # What Google's STS does with it: send it to AWS, as signed (Host included).
    response = requests.request(
        signed["method"],
        f"{local_sts.url}/?Action=GetCallerIdentity&Version=2011-06-15",
        headers={**headers, "Host": "sts.eu-west-3.amazonaws.com"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert f"<Arn>{ROLE}</Arn>" in response.text


def test_google_auth_without_imdsv2_is_refused_where_v2_is_required(
    imds: LocalImds, no_aws_environment: None
) -> None:
    from google.auth import exceptions

    credentials = aws.Credentials.from_info(gcloud_aws_config(imds.url, imdsv2=False))
    with pytest.raises(exceptions.RefreshError, match="Unable to retrieve AWS region"):
        credentials.retrieve_subject_token(Request())


def test_a_forwarded_token_request_is_403(imds: LocalImds) -> None:
    response = requests.put(
        f"{imds.url}/latest/api/token",
        headers={TTL: "300", "X-Forwarded-For": "10.0.0.9"},
        timeout=10,
    )
    assert response.status_code == 403
    assert "<title>403 - Forbidden</title>" in response.text
