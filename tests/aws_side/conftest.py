"""A local AWS STS on loopback, with made identities, and boto3 clients for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config

from aws_side.identities import Identities, Identity, IdentitySpec, make_identities
from aws_side.sts_http import create_sts_app
from wiflab_core.serving import ThreadedServer

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
