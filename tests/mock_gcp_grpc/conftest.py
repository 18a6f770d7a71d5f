"""IAM Credentials over gRPC beside the HTTP Google side of tests/mock_gcp (same backend), and
google-cloud-iam's client on its default gRPC transport pointed at it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.auth import identity_pool
from google.cloud.iam_credentials_v1 import IAMCredentialsClient
from google.cloud.iam_credentials_v1.services.iam_credentials.transports import (
    IAMCredentialsGrpcTransport,
)

from mock_gcp.iamcredentials.grpc import GrpcServer, serve
from mock_gcp.topology import Topology
from tests.mock_gcp import conftest as base
from tests.mock_gcp.conftest import AUDIENCE, CLOUD_PLATFORM, JWT_TYPE, FakeIssuer, Google

# The Google side's fixtures of tests/mock_gcp: the issuer it trusts and its topology.
issuer = base.issuer
uploaded_key = base.uploaded_key
topology = base.topology

Client = Callable[..., IAMCredentialsClient]


@pytest.fixture(scope="session")
def google(topology: Topology, issuer: FakeIssuer) -> Iterator[Google]:
    """This package's own Google side: its tests change the topology at run time."""
    server, google = base.serve_google(topology, issuer.url)
    with server:
        yield google


@pytest.fixture(autouse=True)
def fresh_topology(google: Google, topology: Topology) -> Iterator[None]:
    yield
    google.backend.apply_topology(topology)


@pytest.fixture(scope="session")
def grpc_server(google: Google) -> Iterator[GrpcServer]:
    server = serve(google.backend, "127.0.0.1", 0)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def target(grpc_server: GrpcServer) -> str:
    return f"127.0.0.1:{grpc_server.port}"


def federated_credentials(google: Google, token_file: Path, scopes: list[str] | None = None):
    """google-auth's external-account credentials: a subject token file, STS at the stand-in."""
    info = {
        "type": "external_account",
        "audience": AUDIENCE,
        "subject_token_type": JWT_TYPE,
        "token_url": f"{google.url}/v1/token",
        "credential_source": {"file": str(token_file)},
    }
    credentials = identity_pool.Credentials.from_info(info)
    return credentials.with_scopes(scopes or [CLOUD_PLATFORM])


@pytest.fixture
def token_file(tmp_path, issuer) -> Callable[..., Path]:
    def write(**claims) -> Path:
        path = tmp_path / f"subject-{len(list(tmp_path.iterdir()))}.jwt"
        path.write_text(issuer.mint(**claims))
        return path

    return write


@pytest.fixture
def client(google, target, token_file) -> Client:
    """IAMCredentialsClient on its default gRPC transport with federated credentials: the
    transport builds its channel itself (google-auth attaches the token to every call), with
    gRPC's local (loopback, no TLS) channel credentials in place of TLS."""

    def make(scopes: list[str] | None = None, **claims) -> IAMCredentialsClient:
        credentials = federated_credentials(google, token_file(**claims), scopes)
        transport = IAMCredentialsGrpcTransport(
            host=target,
            credentials=credentials,
            ssl_channel_credentials=grpc.local_channel_credentials(),
        )
        return IAMCredentialsClient(transport=transport)

    return make


@pytest.fixture
def insecure_client(target) -> Iterator[Callable[..., IAMCredentialsClient]]:
    """The client on an insecure channel as the issue names it; metadata per call."""
    channels: list[grpc.Channel] = []

    def make() -> IAMCredentialsClient:
        channel = grpc.insecure_channel(target)
        channels.append(channel)
        return IAMCredentialsClient(transport=IAMCredentialsGrpcTransport(channel=channel))

    yield make
    for channel in channels:
        channel.close()


def claims_of(token: str) -> dict:
    import base64

    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
