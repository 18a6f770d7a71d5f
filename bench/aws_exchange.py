"""An AWS caller's STS exchange beside an OIDC caller's: p50 of each, the same run.

The stack runs in threads mode with the example topology (its AWS side included). The OIDC
exchange verifies one RS256 JWT (the JWKS cached); the AWS exchange executes the signed
GetCallerIdentity at the local AWS STS (one loopback round trip, SigV4 recomputed with
botocore's signer: one HMAC chain). A bare loopback round trip to the AWS STS (an unsigned
request it refuses at once) is timed too: the extra cost of an AWS exchange should be about
that plus one HMAC chain.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
from google.auth import aws
from google.auth.transport.requests import Request

from bench.google_side import exchange_form
from wiflab_lab.stack import Stack, StackOptions

TOPOLOGY = Path(__file__).resolve().parents[1] / "wif.yaml"
PROVIDER = "aws-pool-1/aws-provider-1"
USER = "arn:aws:iam::111122223333:user/svcacct1"
ROUNDS = 300


def _p50_ms(call: Callable[[], requests.Response], rounds: int = ROUNDS) -> float:
    for _ in range(20):  # warm up: connections, caches
        call()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _aws_form(stack: Stack) -> dict[str, str]:
    endpoints = stack.endpoints
    assert endpoints.aws is not None
    keys = endpoints.aws.identities[USER]
    os.environ.update(AWS_ACCESS_KEY_ID=keys.access_key_id, AWS_REGION="us-east-1")
    os.environ["AWS_SECRET_ACCESS_KEY"] = keys.secret_access_key
    config = endpoints.credentials[f"{PROVIDER.replace('/', '.')}.aws-env"]
    token = aws.Credentials.from_file(config).retrieve_subject_token(Request())
    return {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "audience": endpoints.providers[PROVIDER].audience,
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "subject_token": token,
        "subject_token_type": "urn:ietf:params:aws:token-type:aws4_request",
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as state:
        options = StackOptions(TOPOLOGY, Path(state), port_base=0, explorer=False)
        with Stack(options) as stack:
            session = requests.Session()
            token_url = stack.endpoints.sts.token_url
            oidc = exchange_form(stack)
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            aws_form = _aws_form(stack)
            assert stack.endpoints.aws is not None
            aws_sts = stack.endpoints.aws.sts_url
            assert session.post(token_url, data=oidc, headers=headers).ok
            assert session.post(token_url, data=aws_form).ok
            oidc_ms = _p50_ms(lambda: session.post(token_url, data=oidc, headers=headers))
            aws_ms = _p50_ms(lambda: session.post(token_url, data=aws_form))
            hop_ms = _p50_ms(lambda: session.post(aws_sts, data="Action=GetCallerIdentity"))
    print(f"OIDC exchange p50: {oidc_ms:.2f} ms ({ROUNDS} sequential, threads mode)")
    print(f"AWS exchange p50:  {aws_ms:.2f} ms")
    print(f"AWS STS round trip p50 (refused unsigned): {hop_ms:.2f} ms")
    print(f"AWS / OIDC: {aws_ms / oidc_ms:.2f}x; AWS - OIDC: {aws_ms - oidc_ms:.2f} ms")


if __name__ == "__main__":
    main()
