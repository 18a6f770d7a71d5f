"""Projects as namespaces: what serving 50 projects costs an STS exchange, against serving one.

One run starts the stack (threads mode: its Google side follows the state dir, as every worker
does), times sequential STS exchanges over loopback with the default project alone, then puts
49 more projects (``PUT /wiflab/v1/projects/NUMBER/topology``, copies of the example under
their own numbers and ids) and times exchanges again, for the default project and for the
50th. Rounds alternate (one project, fifty, one, fifty...) by deleting and putting the 49
again, so the machine's noise falls on both sides alike; the p50s and their ratio are printed.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import requests
import yaml

from bench.google_side import CLAIMS, PROVIDER, TOPOLOGY, exchange_fields
from wiflab_lab.stack import Stack, StackOptions
from wiflab_lab.testing import WifProject

PROJECTS = 50
EXCHANGES = 200
ROUNDS = 3
A_NUMBER, A_ID = "123456789012", "demo-project"


def project_copy(i: int) -> dict:
    text = TOPOLOGY.read_text(encoding="utf-8")
    number, project_id = f"{900000000000 + i}", f"bench-project-{i:03d}"
    return yaml.safe_load(text.replace(A_NUMBER, number).replace(A_ID, project_id))


def exchange_p50(http: requests.Session, sts: str, idp: str, audience: str) -> float:
    """p50 in ms of EXCHANGES sequential exchanges, each with its own subject token."""
    subject = http.post(idp, json={**CLAIMS, "aud": audience}, timeout=10).text
    form = exchange_fields(audience, subject)
    times = []
    for _ in range(EXCHANGES):
        start = time.perf_counter()
        answer = http.post(sts, data=form, timeout=10)
        times.append(time.perf_counter() - start)
        if answer.status_code != 200:
            raise RuntimeError(f"exchange refused: {answer.status_code} {answer.text[:300]}")
    return statistics.median(times) * 1000


def lookup_us(stack: Stack, number: str, count: int = 20_000) -> float:
    """µs per project lookup in the backend (its state-file stats, then the index)."""
    backend = stack.backend
    assert backend is not None
    start = time.perf_counter()
    for _ in range(count):
        backend.project(number)
    return (time.perf_counter() - start) / count * 1e6


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="wiflab-bench-") as tmp:
        options = StackOptions(TOPOLOGY, Path(tmp) / "state", port_base=0)
        with Stack(options) as stack:
            endpoints = stack.endpoints
            google = endpoints.iamcredentials.api_endpoint
            sts, idp = endpoints.sts.token_url, endpoints.require_idp().token_url
            audience = endpoints.providers[PROVIDER].audience
            others = [WifProject(google, project_copy(i)) for i in range(1, PROJECTS)]
            last = others[-1].topology
            last_audience = last.provider_audience(*PROVIDER.split("/"))
            http = requests.Session()
            exchange_p50(http, sts, idp, audience)  # warm: JWKS fetched, code paths loaded
            one, fifty, fiftieth = [], [], []
            lookups: dict[str, list[float]] = {"1": [], "50": []}
            for _ in range(ROUNDS):
                one.append(exchange_p50(http, sts, idp, audience))
                lookups["1"].append(lookup_us(stack, A_NUMBER))
                for project in others:
                    project.put()
                fifty.append(exchange_p50(http, sts, idp, audience))
                fiftieth.append(exchange_p50(http, sts, idp, last_audience))
                lookups["50"].append(lookup_us(stack, last.project_number))
                for project in others:
                    project.delete()
    p_one, p_fifty, p_last = (statistics.median(x) for x in (one, fifty, fiftieth))
    print(f"STS exchange p50, 1 project loaded:           {p_one:6.2f} ms")
    print(
        f"STS exchange p50, {PROJECTS} projects, the default:   {p_fifty:6.2f} ms"
        f"   vs 1 project {p_fifty / p_one:5.2f}x"
    )
    print(
        f"STS exchange p50, {PROJECTS} projects, the {PROJECTS}th:      {p_last:6.2f} ms"
        f"   vs 1 project {p_last / p_one:5.2f}x"
    )
    print(f"({ROUNDS} alternating rounds of {EXCHANGES} sequential exchanges each, on loopback)")
    l_one, l_fifty = (statistics.median(lookups[k]) for k in ("1", "50"))
    print(
        f"project lookup in the backend: {l_one:5.2f} µs with 1, {l_fifty:5.2f} µs with "
        f"{PROJECTS} ({l_fifty / l_one:4.2f}x; two stats of the state files, then a dict)"
    )


if __name__ == "__main__":
    main()
