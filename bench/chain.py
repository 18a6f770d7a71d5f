"""The whole chain on loopback: mint -> exchange -> generateIdToken -> call through Cloud Run.

One run measures, on this machine:
- the floor: the chain's own crypto (the IdP signs, STS verifies, IAM Credentials signs, the
  front end verifies: two RS256 signatures and two verifications), timed in this process;
- sequential chains in threads and processes modes: chains/s, p50 and p99 latency, and the
  ratio of p50 to the floor;
- ``wiflab up --mode processes``: the time from launch to its ready line (best of three).
Targets: p50 within 10 ms in threads mode; processes mode ready within 1.5 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jwt
import requests

from wiflab_core.endpoints import Endpoints
from wiflab_core.keys import generate
from wiflab_lab.stack import Stack, StackOptions

TOPOLOGY = Path(__file__).resolve().parents[1] / "wif.yaml"
CHAINS = 300
WARMUP = 20
SA = "oidc-federated@demo-project.iam.gserviceaccount.com"
SERVICE = "federated-auth-cloud-run"
PROVIDER = "oidc-pool-run/oidc-provider-1"
P50_TARGET_MS = 10.0
READY_TARGET_S = 1.5


def crypto_floor_ms(rounds: int = 300) -> float:
    """Median time of the chain's two RS256 signatures and two verifications."""
    key = generate("RS256")
    public = jwt.PyJWK(dict(key.public_jwk))
    claims = {"sub": "alice@domain.com", "aud": "x", "iat": 0, "exp": 2**31}
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(2):
            token = key.sign(claims)
            jwt.decode(token, public, algorithms=["RS256"], audience="x")
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


class Chain:
    """One caller walking the chain with one keep-alive session, as a client would."""

    def __init__(self, endpoints: Endpoints):
        self.session = requests.Session()
        self.idp = endpoints.require_idp().token_url
        self.sts = endpoints.sts.token_url
        self.iam = endpoints.iamcredentials.api_endpoint
        self.service = endpoints.services[SERVICE].url
        # The audience the front end expects (its URL, unless reached by another one).
        self.service_audience = self.service
        self.audience = endpoints.providers[PROVIDER].audience

    def run(self) -> None:
        claims = {"sub": "alice@domain.com", "isadmin": "true", "aud": self.audience}
        subject = self._ok(self.session.post(self.idp, json=claims)).text
        federated = self._ok(
            self.session.post(
                self.sts,
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                    "audience": self.audience,
                    "scope": "https://www.googleapis.com/auth/cloud-platform",
                    "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
                    "subject_token": subject,
                    "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                },
            )
        ).json()["access_token"]
        id_token = self._ok(
            self.session.post(
                f"{self.iam}/v1/projects/-/serviceAccounts/{SA}:generateIdToken",
                json={"audience": self.service_audience, "includeEmail": True},
                headers={"Authorization": f"Bearer {federated}"},
            )
        ).json()["token"]
        self._ok(
            self.session.get(
                f"{self.service}/dump", headers={"Authorization": f"Bearer {id_token}"}
            )
        )

    @staticmethod
    def _ok(response: requests.Response) -> requests.Response:
        if response.status_code != 200:
            raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
        return response


def measure_chains(mode: str) -> list[float]:
    with (
        tempfile.TemporaryDirectory(prefix="wiflab-bench-") as state,
        Stack(StackOptions(TOPOLOGY, Path(state), mode=mode, port_base=0)) as stack,
    ):
        chain = Chain(stack.endpoints)
        for _ in range(WARMUP):
            chain.run()
        samples = []
        for _ in range(CHAINS):
            start = time.perf_counter()
            chain.run()
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def up_ready_seconds(rounds: int = 3) -> float:
    """Best time from launching ``wiflab up --mode processes`` to its ready line."""
    best = float("inf")
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="wiflab-bench-") as state:
            start = time.perf_counter()
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "wiflab.cli",
                    "up",
                    "--mode",
                    "processes",
                    "--port-base",
                    "0",
                    "--topology",
                    str(TOPOLOGY),
                    "--state-dir",
                    state,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert process.stdout is not None
            line = process.stdout.readline()
            elapsed = time.perf_counter() - start
            process.terminate()
            process.wait(30)
            if not line.startswith("wiflab ready:"):
                raise RuntimeError("wiflab up did not become ready")
            best = min(best, elapsed)
    return best


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1]


def main() -> None:
    floor = crypto_floor_ms()
    print(f"floor: the chain's crypto (2 RS256 signs + 2 verifies): {floor:6.2f} ms")
    for mode in ("threads", "processes"):
        samples = measure_chains(mode)
        p50, p99 = statistics.median(samples), percentile(samples, 99)
        rate = 1000 * len(samples) / sum(samples)
        line = f"{mode:9} chain: {rate:6.1f} chains/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
        print(f"{line}  p50/floor {p50 / floor:5.1f}x")
        if mode == "threads":
            verdict = "meets" if p50 <= P50_TARGET_MS else "MISSES"
            print(f"  {verdict} the {P50_TARGET_MS:.0f} ms p50 target ({CHAINS} sequential chains)")
    ready = up_ready_seconds()
    verdict = "meets" if ready <= READY_TARGET_S else "MISSES"
    print(f"wiflab up --mode processes: ready in {ready:.2f} s", end=" ")
    print(f"({verdict} the {READY_TARGET_S} s target)")
