"""Hostile input over gRPC: any request bytes, any field values. Each call ends (no hang: a
deadline on every call) in an answer or one of Google's refusals, never INTERNAL or UNKNOWN
(what grpcio answers when a handler raises), and the server keeps serving."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.cloud.iam_credentials_v1 import types
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.mock_gcp.conftest import GROUP_SA

METHODS = ("GenerateAccessToken", "GenerateIdToken", "SignBlob", "SignJwt")
# What a refusal may be: the REST catalogue's codes.
REFUSALS = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
}
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def channel(target) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(target) as channel:
        yield channel


@pytest.fixture(scope="module")
def auth(google, issuer) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {google.federated_token(issuer.mint())}")]


def call(channel: grpc.Channel, method: str, data: bytes, metadata) -> grpc.StatusCode:
    stub = channel.unary_unary(f"/google.iam.credentials.v1.IAMCredentials/{method}")
    try:
        stub(data, metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def still_serving(channel, auth) -> None:
    request = types.GenerateIdTokenRequest.pb()(
        name=f"projects/-/serviceAccounts/{GROUP_SA}", audience="a"
    )
    assert call(channel, "GenerateIdToken", request.SerializeToString(), auth) == (
        grpc.StatusCode.OK
    )


@FUZZ
@given(method=st.sampled_from(METHODS), data=st.binary(max_size=512))
def test_any_bytes(channel, auth, method, data):
    code = call(channel, method, data, auth)
    assert code == grpc.StatusCode.OK or code in REFUSALS, code


@pytest.mark.parametrize(
    "data",
    [
        b"\x0a\xff\xff\xff\xff\x0f",  # a length far beyond the message
        b"\x0a\x02\xc3\x28",  # name: invalid UTF-8
        b"\x22\x0b\x08\xff\xff\xff\xff\xff\xff\xff\xff\x7f",  # lifetime: seconds out of range
        b"\x0f",  # an invalid wire type
        b"\x0a" + b"\x80" * 11,  # an overlong varint
    ],
)
def test_malformed_messages_are_invalid_argument(channel, auth, data):
    assert call(channel, "GenerateAccessToken", data, auth) == grpc.StatusCode.INVALID_ARGUMENT
    still_serving(channel, auth)


def test_a_message_over_the_size_limit(channel, auth):
    request = types.SignBlobRequest.pb()(
        name=f"projects/-/serviceAccounts/{GROUP_SA}", payload=b"x" * (1024 * 1024)
    )
    code = call(channel, "SignBlob", request.SerializeToString(), auth)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED  # grpcio's own limit, before the rules
    still_serving(channel, auth)


text = st.text(max_size=80)
names = st.one_of(text, st.builds("projects/-/serviceAccounts/{}".format, text))


@FUZZ
@given(
    name=names,
    delegates=st.lists(names, max_size=3),
    scope=st.lists(text, max_size=3),
    seconds=st.integers(-(10**12), 10**12),
    nanos=st.integers(-999_999_999, 999_999_999),
)
def test_any_access_token_request(channel, auth, name, delegates, scope, seconds, nanos):
    request = types.GenerateAccessTokenRequest.pb()(name=name, delegates=delegates, scope=scope)
    request.lifetime.seconds, request.lifetime.nanos = seconds, nanos
    code = call(channel, "GenerateAccessToken", request.SerializeToString(), auth)
    assert code == grpc.StatusCode.OK or code in REFUSALS, code


@FUZZ
@given(name=names, payload=st.one_of(text, st.binary(max_size=64).map(repr)))
def test_any_sign_jwt_request(channel, auth, name, payload):
    request = types.SignJwtRequest.pb()(name=name, payload=payload)
    code = call(channel, "SignJwt", request.SerializeToString(), auth)
    assert code == grpc.StatusCode.OK or code in REFUSALS, code


@FUZZ
@given(
    metadata=st.lists(
        st.tuples(st.sampled_from(["authorization", "x-goog-request-params", "x-other"]), text),
        max_size=4,
    )
)
def test_any_metadata(channel, metadata):
    request = types.GenerateIdTokenRequest.pb()(
        name=f"projects/-/serviceAccounts/{GROUP_SA}", audience="a"
    )
    printable = [(k, v) for k, v in metadata if v.isprintable() and v.isascii()]
    code = call(channel, "GenerateIdToken", request.SerializeToString(), printable)
    assert code in REFUSALS, code
