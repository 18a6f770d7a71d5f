"""IAM Credentials over gRPC beside REST: generateIdToken p50, the same run, the same server.

The stack runs in processes mode (Google's side in one gunicorn worker, which also serves the
gRPC listener on the same backend). With one federated token from STS, generateIdToken is
called one at a time, the four ways interleaved so that the machine's noise falls on all
alike: plain HTTP (a keep-alive requests session), a plain gRPC channel (the serialized
request, no client library), and google-cloud-iam's IAMCredentialsClient on its REST and on
its gRPC transport. Printed: each p50, and gRPC's over REST's (the reference).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import requests
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import Request
from google.cloud.iam_credentials_v1 import IAMCredentialsClient, types
from google.cloud.iam_credentials_v1.services.iam_credentials.transports import (
    IAMCredentialsGrpcTransport,
)

from bench.google_side import PROVIDER, SA, TOPOLOGY
from wiflab_lab.stack import Stack, StackOptions
from wiflab_lab.testing import credentials_from_info

CALLS = 300
WARM_UP = 20
AUDIENCE = "https://federated-auth-cloud-run.example.run.app"


def federated_token(stack: Stack) -> str:
    """The token STS gives for the lab provider's ready-made file-sourced config."""
    config = stack.endpoints.credentials[f"{PROVIDER.replace('/', '.')}.file"]
    credentials = credentials_from_info(json.loads(Path(config).read_text()))
    credentials.refresh(Request())
    return credentials.token


def callers(stack: Stack, token: str) -> dict[str, Callable[[], object]]:
    endpoints = stack.endpoints
    target = endpoints.iamcredentials.grpc_target
    assert target is not None
    name = f"projects/-/serviceAccounts/{SA}"
    bearer = [("authorization", f"Bearer {token}")]
    session = requests.Session()
    url = f"{endpoints.iamcredentials.api_endpoint}/v1/{name}:generateIdToken"
    body = {"audience": AUDIENCE, "includeEmail": True}
    channel = grpc.insecure_channel(target)
    raw = channel.unary_unary("/google.iam.credentials.v1.IAMCredentials/GenerateIdToken")
    request = types.GenerateIdTokenRequest.pb()(
        name=name, audience=AUDIENCE, include_email=True
    ).SerializeToString()
    rest_client = IAMCredentialsClient(
        credentials=AnonymousCredentials(),
        transport="rest",
        client_options={"api_endpoint": endpoints.iamcredentials.api_endpoint},
    )
    grpc_client = IAMCredentialsClient(
        transport=IAMCredentialsGrpcTransport(channel=grpc.insecure_channel(target))
    )

    def http() -> object:
        answer = session.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
        answer.raise_for_status()
        return answer

    return {
        "REST, plain HTTP": http,
        "gRPC, plain channel": lambda: raw(request, metadata=bearer, timeout=10),
        "REST, IAMCredentialsClient": lambda: rest_client.generate_id_token(
            name=name, audience=AUDIENCE, include_email=True, metadata=bearer
        ),
        "gRPC, IAMCredentialsClient": lambda: grpc_client.generate_id_token(
            name=name, audience=AUDIENCE, include_email=True, metadata=bearer
        ),
    }


def p50s(calls: dict[str, Callable[[], object]], count: int = CALLS) -> dict[str, float]:
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(WARM_UP + count):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            if round_ >= WARM_UP:
                timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in timings.items()}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="wiflab-bench-") as tmp:
        options = StackOptions(TOPOLOGY, Path(tmp) / "state", mode="processes", port_base=0)
        with Stack(options) as stack:
            medians = p50s(callers(stack, federated_token(stack)))
    for name, median in medians.items():
        print(f"generateIdToken p50  {name:28} {median * 1000:7.2f} ms")
    for kind in ("plain", "IAMCredentialsClient"):
        rest = next(v for k, v in medians.items() if k.startswith("REST") and kind in k)
        over_grpc = next(v for k, v in medians.items() if k.startswith("gRPC") and kind in k)
        print(f"gRPC / REST ({kind}): {over_grpc / rest:5.2f}x")


if __name__ == "__main__":
    main()
