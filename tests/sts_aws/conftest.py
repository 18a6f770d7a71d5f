"""Google's STS with an AWS provider, and a stand-in for AWS STS that answers AWS's own XML.

The stand-in does not check signatures (the lab's aws_side does, with botocore's signer): it
answers by access key id, so each test says what AWS would answer. It records what reached it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import pytest
import requests
import yaml
from flask import Flask, Response, request
from google.auth import aws
from google.auth.transport.requests import Request

from mock_gcp.app import create_app
from mock_gcp.backend import GoogleBackend, LocalDeviations
from mock_gcp.topology import parse_topology
from wiflab_core.serving import ThreadedServer

PROJECT_NUMBER = "123456789012"
ACCOUNT = "111122223333"
POOL = f"projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/aws-pool"
AUDIENCE = f"//iam.googleapis.com/{POOL}/providers/aws-provider"
OTHER_AUDIENCE = f"//iam.googleapis.com/{POOL}/providers/other-provider"
OIDC_AUDIENCE = f"//iam.googleapis.com/{POOL}/providers/oidc-provider"
AWS4_REQUEST = "urn:ietf:params:aws:token-type:aws4_request"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/svcacct1"
ROLE_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/ec2role/i-01eb8a107a2026dcd"
INTERN_ARN = f"arn:aws:iam::{ACCOUNT}:user/intern"
OUTSIDER_ARN = "arn:aws:iam::444455556666:user/outsider"
SA = "aws-federated@demo-project.iam.gserviceaccount.com"

TOPOLOGY = f"""
project: {{id: demo-project, number: "{PROJECT_NUMBER}"}}
pools:
  - id: aws-pool
    providers:
      - id: aws-provider
        aws: {{accountId: "{ACCOUNT}"}}
        attributeCondition: >-
          assertion.arn == '{USER_ARN}' ||
          attribute.aws_role == 'arn:aws:sts::{ACCOUNT}:assumed-role/ec2role'
      - id: other-provider
        aws: {{accountId: "{ACCOUNT}"}}
      - id: oidc-provider
        attributeMapping: {{google.subject: assertion.sub}}
        oidc: {{}}
serviceAccounts:
  - email: {SA}
    policy:
      bindings:
        - role: roles/iam.workloadIdentityUser
          members:
            - principalSet://iam.googleapis.com/{POOL}/attribute.aws_role/arn:aws:sts::{ACCOUNT}:assumed-role/ec2role
"""

# Access key id -> the identity AWS would answer for it.
IDENTITIES = {
    "AKIAUSER00000000": (USER_ARN, "AIDAUH3H6EGKDO36JYJH3"),
    "ASIAROLE00000000": (ROLE_ARN, "AROAUH3H6EGKM3W5BCPKR:i-01eb8a107a2026dcd"),
    "AKIAINTERN000000": (INTERN_ARN, "AIDAINTERN0000000000"),
    "AKIAOUTSIDER0000": (OUTSIDER_ARN, "AIDAOUTSIDER00000000"),
}
BAD_KEY = "AKIABADSIGNATURE"

# AWS's literal answers (docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
IDENTITY_XML = """<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>{arn}</Arn>
    <UserId>{userid}</UserId>
    <Account>{account}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>
"""
ERROR_XML = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>{code}</Code>
    <Message>{message}</Message>
  </Error>
  <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>
</ErrorResponse>
"""
SIGNATURE_DOES_NOT_MATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation "
    "for details."
)


@dataclass
class FakeAws:
    url: str
    seen: list[dict[str, Any]] = field(default_factory=list)


def fake_aws_app(seen: list[dict[str, Any]]) -> Flask:
    app = Flask("fake-aws-sts")

    @app.route("/", methods=["GET", "POST"])
    def sts() -> Response:
        seen.append(
            {
                "method": request.method,
                "query": request.query_string.decode(),
                "headers": dict(request.headers),
                "body": request.get_data(as_text=True),
            }
        )
        authorization = request.headers.get("Authorization", "")
        key = authorization.partition("Credential=")[2].partition("/")[0]
        if key in IDENTITIES:
            arn, userid = IDENTITIES[key]
            account = arn.split(":")[4]
            body = IDENTITY_XML.format(arn=arn, userid=userid, account=account)
            return Response(body, 200, content_type="text/xml")
        body = ERROR_XML.format(code="SignatureDoesNotMatch", message=SIGNATURE_DOES_NOT_MATCH)
        return Response(body, 403, content_type="text/xml")

    return app


@pytest.fixture(scope="session")
def fake_aws() -> Iterator[FakeAws]:
    seen: list[dict[str, Any]] = []
    with ThreadedServer(fake_aws_app(seen)) as server:
        yield FakeAws(server.url, seen)


@dataclass
class Google:
    url: str
    backend: GoogleBackend
    session: requests.Session = field(default_factory=requests.Session)

    def exchange(self, subject_token: str, audience: str = AUDIENCE, **fields: str):
        body = {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "audience": audience,
            "scope": "https://www.googleapis.com/auth/cloud-platform",
            "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "subject_token": subject_token,
            "subject_token_type": AWS4_REQUEST,
            **fields,
        }
        return self.session.post(f"{self.url}/v1/token", data=body, timeout=30)


def serve_google(aws_sts_url: str | None, clock: Callable[[], float] = time.time):
    server = ThreadedServer()
    deviations = LocalDeviations(google_issuer=server.url, aws_sts_url=aws_sts_url)
    backend = GoogleBackend(parse_topology(yaml.safe_load(TOPOLOGY)), deviations, clock=clock)
    server.app = create_app(backend)
    return server, Google(server.url, backend)


@pytest.fixture(scope="session")
def google(fake_aws: FakeAws) -> Iterator[Google]:
    server, google = serve_google(fake_aws.url)
    with server:
        yield google


class Supplier(aws.AwsSecurityCredentialsSupplier):
    def __init__(self, key: str, region: str, session_token: str | None):
        self.key, self.region, self.session_token = key, region, session_token

    def get_aws_security_credentials(self, context, request):
        return aws.AwsSecurityCredentials(self.key, "secret-" + self.key, self.session_token)

    def get_aws_region(self, context, request):
        return self.region


def credentials(
    key: str,
    google_url: str = "http://127.0.0.1:1",
    audience: str = AUDIENCE,
    region: str = "us-east-1",
    session_token: str | None = None,
    **kwargs: Any,
) -> aws.Credentials:
    """google-auth's AWS credentials, its keys and region supplied in code."""
    return aws.Credentials(
        audience=audience,
        subject_token_type=AWS4_REQUEST,
        token_url=f"{google_url}/v1/token",
        aws_security_credentials_supplier=Supplier(key, region, session_token),
        scopes=["https://www.googleapis.com/auth/cloud-platform"],
        **kwargs,
    )


def signed_request(key: str, **kwargs: Any) -> str:
    """The subject token google-auth sends: the serialized signed GetCallerIdentity."""
    return credentials(key, **kwargs).retrieve_subject_token(Request())


def edited(token: str, edit: Callable[[dict[str, Any]], None]) -> str:
    """The serialized request, changed after signing (as an attacker or a buggy client would)."""
    doc = json.loads(unquote(token))
    edit(doc)
    return quote(json.dumps(doc))


def set_header(name: str, value: str | None) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        doc["headers"] = [h for h in doc["headers"] if h["key"].lower() != name.lower()]
        if value is not None:
            doc["headers"].append({"key": name, "value": value})

    return edit


def refusal(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]
