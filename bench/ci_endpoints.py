"""The CI providers' token endpoints against the IdP's plain ``POST /token``, in one run.

One IdP (the Flask app, served on an ephemeral loopback port by a thread) answers, over one
keep-alive connection, in interleaved rounds (after one unmeasured warm-up round of each):
- ``POST /token`` with a small claims body (the reference: what the IdP always did);
- ``GET /ci/github/idtoken`` as ``@actions/core`` asks (bearer check, every claim GitHub
  documents built by the github preset);
- ``GET /metadata/identity/oauth2/token`` as google-auth's url source asks Azure's IMDS.
Prints requests/s for each and the median of the rounds' ratios to the reference (each round's
ratios too): the presets' claims and the request-token check cost what the ratio shows, and
nothing is asserted.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from urllib.parse import quote

import requests

from idp_server.app import create_app
from idp_server.settings import IdpSettings
from wiflab_core.serving import ThreadedServer

ROUNDS = 5
SECONDS = 1.5
REQUEST_TOKEN = "bench-request-token"
AUDIENCE = (
    "https://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q"
)


def rate(call: Callable[[], requests.Response], seconds: float = SECONDS) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        response = call()
        assert response.status_code == 200, response.text
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    server = ThreadedServer()
    server.app = create_app(IdpSettings(issuer=server.url, ci_request_token=REQUEST_TOKEN))
    server.start()
    try:
        session = requests.Session()
        url = server.url
        calls: dict[str, Callable[[], requests.Response]] = {
            "POST /token": lambda: session.post(
                f"{url}/token",
                data=b'{"sub": "alice", "aud": "%s"}' % AUDIENCE.encode(),
                timeout=10,
            ),
            "GitHub idtoken": lambda: session.get(
                f"{url}/ci/github/idtoken?api-version=2.0&audience={quote(AUDIENCE, safe='')}",
                headers={"Authorization": f"Bearer {REQUEST_TOKEN}"},
                timeout=10,
            ),
            "Azure IMDS": lambda: session.get(
                f"{url}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://x",
                headers={"Metadata": "true"},
                timeout=10,
            ),
        }
        for call in calls.values():
            rate(call, 0.3)  # warm-up
        rounds: list[dict[str, float]] = []
        for _ in range(ROUNDS):
            rounds.append({name: rate(call) for name, call in calls.items()})
    finally:
        server.stop()
    reference = "POST /token"
    for name in calls:
        rates = [r[name] for r in rounds]
        ratios = [r[name] / r[reference] for r in rounds]
        print(
            f"{name:16} {statistics.median(rates):7.0f} req/s   "
            f"{statistics.median(ratios):.2f}x POST /token "
            f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)})"
        )


if __name__ == "__main__":
    main()
