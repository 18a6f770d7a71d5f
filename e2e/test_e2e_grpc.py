"""IAM Credentials over gRPC, the whole chain: the lab IdP's token -> STS -> google-cloud-iam's
IAMCredentialsClient on its default gRPC transport with google-auth's federated credentials
-> a Google-signed ID token the Cloud Run service accepts. Locally the client is pointed at
``endpoints.iamcredentials.grpc_target`` (plaintext on loopback: gRPC's local channel
credentials stand in for TLS); against Google Cloud it talks to Google's own host. Refusals
carry Google's codes, the REST texts and the same ErrorInfo."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import requests
from google.api_core import exceptions
from google.cloud.iam_credentials_v1 import IAMCredentialsClient
from google.cloud.iam_credentials_v1.services.iam_credentials.transports import (
    IAMCredentialsGrpcTransport,
)
from google.protobuf import duration_pb2

from e2e.chain import token_account
from e2e.names import CLOUD_PLATFORM, FEDERATED_SA, LAB_PROVIDER, SERVICE, TARGET_SA, WORKLOAD_SA

HELP = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


def client(wif_stack, credentials: Any) -> IAMCredentialsClient:
    target = wif_stack.endpoints.iamcredentials.grpc_target
    if target is None:  # Google Cloud: the client's defaults, TLS to Google's host
        return IAMCredentialsClient(credentials=credentials)
    transport = IAMCredentialsGrpcTransport(
        host=target,
        credentials=credentials,
        ssl_channel_credentials=grpc.local_channel_credentials(),
    )
    return IAMCredentialsClient(transport=transport)


@pytest.fixture
def alice(wif_stack, chain) -> IAMCredentialsClient:
    return client(wif_stack, chain.credentials(LAB_PROVIDER, profile="alice"))


@pytest.fixture
def insecure(wif_stack) -> Iterator[IAMCredentialsClient]:
    target = wif_stack.endpoints.iamcredentials.grpc_target
    if target is None:
        pytest.skip("a plaintext channel needs the local target's gRPC listener")
    with grpc.insecure_channel(target) as channel:
        yield IAMCredentialsClient(transport=IAMCredentialsGrpcTransport(channel=channel))


def test_seed_001_over_grpc_to_cloud_run(wif_stack, alice):
    account = wif_stack.account(FEDERATED_SA)
    url = wif_stack.service_url(SERVICE)
    token = alice.generate_id_token(
        name=f"projects/-/serviceAccounts/{account}", audience=url, include_email=True
    ).token
    dump = requests.get(f"{url}/dump", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert dump.status_code == 200, dump.text
    identity = dump.json()["identity"]
    assert identity["claims"]["email"] == account
    assert identity["verified"] is True


def test_the_other_three_methods(wif_stack, alice, chain):
    """alice holds Token Creator on the target account."""
    name = chain.account_name(TARGET_SA)
    access = alice.generate_access_token(
        name=name, scope=[CLOUD_PLATFORM], lifetime=duration_pb2.Duration(seconds=900)
    )
    assert access.expire_time.timestamp() > time.time() + 800
    # The token is one Google's side knows, the target account's (tokeninfo's azp).
    assert token_account(wif_stack, access.access_token) == wif_stack.account(TARGET_SA)
    blob = alice.sign_blob(name=name, payload=b"grpc")
    assert blob.key_id and len(blob.signed_blob) >= 256
    exp = int(time.time()) + 300
    signed = alice.sign_jwt(name=name, payload=json.dumps({"sub": "x", "exp": exp}))
    assert signed.signed_jwt.count(".") == 2 and signed.key_id == blob.key_id


def test_permission_denied_names_the_permission(wif_stack, alice):
    account = wif_stack.account(WORKLOAD_SA)
    with pytest.raises(exceptions.PermissionDenied) as caught:
        alice.generate_id_token(name=f"projects/-/serviceAccounts/{account}", audience="https://a")
    error = caught.value
    assert error.message == (
        "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist)."
    )
    assert (error.reason, error.domain) == ("IAM_PERMISSION_DENIED", "iam.googleapis.com")
    assert error.metadata == {"permission": "iam.serviceAccounts.getOpenIdToken"}


def test_lifetime_over_an_hour(wif_stack, alice, chain):
    with pytest.raises(exceptions.InvalidArgument) as caught:
        alice.generate_access_token(
            name=chain.account_name(FEDERATED_SA),
            scope=[CLOUD_PLATFORM],
            lifetime=duration_pb2.Duration(seconds=7200),
        )
    assert caught.value.message == (
        f"Access tokens for service account {wif_stack.account(FEDERATED_SA)} can not have "
        "lifetimes of more than 1 hour. Use the Org Policy Constraint "
        "constraints/iam.allowServiceAccountCredentialLifetimeExtension to allow up to 12 hours."
    )


def test_insufficient_scopes(wif_stack, chain):
    email_only = client(
        wif_stack,
        chain.credentials(
            LAB_PROVIDER,
            profile="alice",
            scopes=("https://www.googleapis.com/auth/userinfo.email",),
        ),
    )
    with pytest.raises(exceptions.PermissionDenied) as caught:
        email_only.sign_blob(name=chain.account_name(FEDERATED_SA), payload=b"x")
    assert caught.value.message == "Request had insufficient authentication scopes."
    assert caught.value.reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"


def test_no_credentials(insecure, chain):
    with pytest.raises(exceptions.Unauthenticated) as caught:
        insecure.generate_id_token(name=chain.account_name(FEDERATED_SA), audience="https://a")
    error = caught.value
    assert error.message == f"Request is missing required authentication credential. {HELP}"
    assert error.reason == "CREDENTIALS_MISSING"
    assert error.metadata == {
        "service": "iamcredentials.googleapis.com",
        "method": "google.iam.credentials.v1.IAMCredentials.GenerateIdToken",
    }


def test_an_idp_token_is_no_credential(insecure, chain, wif_stack):
    with pytest.raises(exceptions.Unauthenticated) as caught:
        insecure.generate_id_token(
            name=chain.account_name(FEDERATED_SA),
            audience="https://a",
            metadata=[("authorization", f"Bearer {wif_stack.mint('alice')}")],
        )
    assert caught.value.message == f"Request had invalid authentication credentials. {HELP}"
    assert caught.value.reason == "ACCESS_TOKEN_TYPE_UNSUPPORTED"


def test_the_listener_is_loopback_only(wif_stack):
    target = wif_stack.endpoints.iamcredentials.grpc_target
    if target is None:
        pytest.skip("Google Cloud serves gRPC at its own host")
    host, _, port = target.rpartition(":")
    assert host == "127.0.0.1"
    # Reachable there (the tests above), and the port is the one endpoints.json names.
    with socket.create_connection((host, int(port)), timeout=5):
        pass
