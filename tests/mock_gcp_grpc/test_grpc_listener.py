"""The stack's gRPC listener: named in endpoints.json, on loopback, the same backend as the
HTTP side (e2e/test_e2e_grpc.py uses a token from STS over gRPC), gone when the stack stops."""

from __future__ import annotations

import json
import socket

import grpc
import pytest
from google.cloud.iam_credentials_v1 import types

from wiflab_core.endpoints import Endpoints
from wiflab_lab.stack import Stack, StackOptions
from wiflab_lab.testing import example_topology


def test_endpoints_name_the_target_and_the_port_closes_on_stop(tmp_path):
    stack = Stack(StackOptions(example_topology(), tmp_path, port_base=0))
    stack.start()
    try:
        written = json.loads(stack.endpoints_path.read_text())
        target = written["iamcredentials"]["grpc_target"]
        host, _, port = target.rpartition(":")
        assert host == "127.0.0.1" and int(port) > 0
        with grpc.insecure_channel(target) as channel:
            call = channel.unary_unary("/google.iam.credentials.v1.IAMCredentials/GenerateIdToken")
            request = types.GenerateIdTokenRequest.pb()(name="projects/-/serviceAccounts/x")
            with pytest.raises(grpc.RpcError) as caught:
                call(request.SerializeToString(), timeout=10)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        stack.stop()
    with pytest.raises(ConnectionRefusedError), socket.socket() as probe:
        probe.connect((host, int(port)))


def test_an_endpoints_file_without_the_target_still_loads(tmp_path):
    stack = Stack(StackOptions(example_topology(), tmp_path, port_base=0))
    with stack:
        document = json.loads(stack.endpoints_path.read_text())
    del document["iamcredentials"]["grpc_target"]
    assert Endpoints.from_json(document).iamcredentials.grpc_target is None


def test_ipv6_loopback(tmp_path):
    with Stack(StackOptions(example_topology(), tmp_path, host="::1", port_base=0)) as stack:
        target = stack.endpoints.iamcredentials.grpc_target
        assert target is not None and target.startswith("[::1]:")
        with grpc.insecure_channel(target) as channel:
            call = channel.unary_unary("/google.iam.credentials.v1.IAMCredentials/SignJwt")
            with pytest.raises(grpc.RpcError) as caught:
                call(b"", timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
