"""A local AWS STS on loopback, with made identities, and boto3 clients for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from aws_side.identities import Identities, Identity, IdentitySpec, make_identities
from aws_side.imds import InstanceMetadata
from aws_side.imds_http import create_imds_app
from aws_side.sts_http import create_sts_app
from tests.intercept.conftest import serve
from wiflab_core.serving import ThreadedServer
from wiflab_lab.intercept.ca import LocalCA
from wiflab_lab.intercept.proxy import InterceptProxy
from wiflab_lab.intercept.routes import Routes

USER = "arn:aws:iam::111122223333:user/alice"
ROLE = "arn:aws:sts::111122223333:assumed-role/ec2-role/i-0abc"
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


@dataclass
class Clock:
    """The local STS's clock: real time unless a test pins it."""

    pinned: datetime | None = None

    def __call__(self) -> datetime:
        return self.pinned or datetime.now(UTC)


@dataclass
class LocalSts:
    url: str
    identities: Identities
    clock: Clock

    def identity(self, arn: str) -> Identity:
        found = self.identities.by_arn(arn)
        assert found is not None
        return found

    def client(
        self, identity: Identity | None = None, region: str = "us-east-1", **keys: Any
    ) -> Any:
        """boto3's STS client for ``identity`` (its own keys unless ``keys`` override them)."""
        if identity is not None:
            keys = {
                "aws_access_key_id": identity.access_key_id,
                "aws_secret_access_key": identity.secret_access_key,
                "aws_session_token": identity.session_token,
                **keys,
            }
        return boto3.client(
            "sts", endpoint_url=self.url, region_name=region, config=NO_RETRIES, **keys
        )


@pytest.fixture(scope="session")
def sts_identities() -> Identities:
    return make_identities([IdentitySpec(USER), IdentitySpec(ROLE, imds=True)], datetime.now(UTC))


@pytest.fixture
def local_sts(sts_identities: Identities) -> Iterator[LocalSts]:
    clock = Clock()
    with ThreadedServer(create_sts_app(sts_identities, clock)) as server:
        yield LocalSts(server.url, sts_identities, clock)


@pytest.fixture
def error_of() -> Callable[[Any], dict[str, Any]]:
    def error(exc: Any) -> dict[str, Any]:
        return {
            "status": exc.response["ResponseMetadata"]["HTTPStatusCode"],
            **exc.response["Error"],
        }

    return error


AUDIENCE = (
    "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/aws/providers/ec2"
)


def gcloud_aws_config(metadata: str = "http://169.254.169.254", imdsv2: bool = True) -> dict:
    """What `gcloud iam workload-identity-pools create-cred-config --aws [--enable-imdsv2]`
    writes, the metadata address being ``metadata``."""
    source = {
        "environment_id": "aws1",
        "region_url": f"{metadata}/latest/meta-data/placement/availability-zone",
        "url": f"{metadata}/latest/meta-data/iam/security-credentials",
        "regional_cred_verification_url": (
            "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
        ),
    }
    if imdsv2:
        source["imdsv2_session_token_url"] = f"{metadata}/latest/api/token"
    return {
        "type": "external_account",
        "audience": AUDIENCE,
        "subject_token_type": "urn:ietf:params:aws:token-type:aws4_request",
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": source,
    }


@pytest.fixture
def no_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS settings from the machine: region, keys and endpoints come from the test."""
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_STS",
        "AWS_EC2_METADATA_DISABLED",
    ):
        monkeypatch.delenv(name, raising=False)


@dataclass
class Intercepted:
    proxy: InterceptProxy
    ca_file: Path


@pytest.fixture
def intercepted(sts_identities: Identities, tmp_path: Path) -> Iterator[Intercepted]:
    google = serve("google")
    metadata = InstanceMetadata(sts_identities.instance, "eu-west-3")
    with (
        ThreadedServer(create_sts_app(sts_identities)) as sts,
        ThreadedServer(create_imds_app(metadata)) as imds,
    ):
        ca = LocalCA.load_or_create(tmp_path / "intercept")
        routes = Routes.build(
            f"http://127.0.0.1:{google.server_address[1]}",
            {},
            aws_sts_url=sts.url,
            aws_imds_url=imds.url,
        )
        proxy = InterceptProxy(ca, routes)
        proxy.start()
        try:
            yield Intercepted(proxy, ca.cert_file)
        finally:
            proxy.stop()
            google.shutdown()


@pytest.fixture
def through_proxy(
    intercepted: Intercepted, monkeypatch: pytest.MonkeyPatch, no_aws_environment: None
) -> Intercepted:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, intercepted.proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1,::1")
    for name in ("REQUESTS_CA_BUNDLE", "AWS_CA_BUNDLE"):
        monkeypatch.setenv(name, str(intercepted.ca_file))
    return intercepted
