"""Scale-out: STS exchanges/s with 2 Google-side workers against 1, and RSS growth per 10,000.

One run starts the stack in processes mode with Google's side under 1 gunicorn worker, then
under 2 (sealed tokens and one key file: any worker serves any request), alternately for
``PAIRS`` pairs, and drives ``POST /v1/token`` with wrk each time; the ratio printed is the
median of the pairs' (2 workers / 1 worker). Then, with 1 worker, ``EXCHANGES`` exchanges
from ``CLIENTS`` threads and Google's side's RSS before and after (nothing is kept per token:
the growth is the allocator settling, not tokens). The target: >= 1.6x on 2 cores, < 5 MB.

The chain's p50 before and after this change: ``python -m bench.compare REV``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import threading
from pathlib import Path

import requests

from bench.google_side import exchange_form, lua_post
from bench.idp_tokens import wrk_rate
from bench.soak import concurrently, google_pids, rss_kib
from wiflab_lab.stack import Stack, StackOptions

TOPOLOGY = Path(__file__).resolve().parents[1] / "wif.yaml"
PAIRS = 3
EXCHANGES = 10_000
CLIENTS = 8
FORM = "application/x-www-form-urlencoded"


def started(options: StackOptions, attempts: int = 3) -> Stack:
    """A started stack; a start that timed out (a loaded machine) is tried again."""
    for attempt in range(attempts):
        stack = Stack(options)
        try:
            stack.start()
            return stack
        except TimeoutError:
            if attempt == attempts - 1:
                raise
            print("  (the stack was slow to start on this loaded machine: trying again)")
    raise AssertionError("unreachable")


def sts_rate(wrk: str, directory: Path, workers: int) -> float:
    options = StackOptions(
        TOPOLOGY,
        directory / f"state-{workers}",
        mode="processes",
        port_base=0,
        google_workers=workers,
    )
    with started(options) as stack:
        script = lua_post(directory, f"sts{workers}", exchange_form(stack), {"Content-Type": FORM})
        url = stack.endpoints.sts.token_url
        wrk_rate(wrk, url, script)  # warm-up: JWKS fetched and cached in every worker
        return wrk_rate(wrk, url, script)


def rss_growth_mib(directory: Path) -> tuple[float, int]:
    """(RSS growth in MiB over EXCHANGES exchanges, exchanges that failed), 1 worker."""
    options = StackOptions(
        TOPOLOGY, directory / "state-rss", mode="processes", port_base=0, google_workers=1
    )
    with started(options) as stack:
        body = exchange_form(stack)
        url = stack.endpoints.sts.token_url
        sessions: dict[int, requests.Session] = {}

        def exchange() -> None:
            session = sessions.setdefault(threading.get_ident(), requests.Session())
            response = session.post(url, data=body, headers={"Content-Type": FORM}, timeout=10)
            if response.status_code != 200:
                raise RuntimeError(response.text)

        concurrently(exchange, CLIENTS, 500 // CLIENTS)  # warm-up
        pids = google_pids("processes")
        before = rss_kib(pids)
        _, failed, _ = concurrently(exchange, CLIENTS, EXCHANGES // CLIENTS)
        after = rss_kib(pids)
    return (after - before) / 1024, failed


def main() -> None:
    print(f"cores: {os.cpu_count()}")
    wrk = shutil.which("wrk")
    with tempfile.TemporaryDirectory(prefix="wiflab-bench-scale-") as tmp:
        directory = Path(tmp)
        growth, failed = rss_growth_mib(directory)
        print(
            f"RSS growth over {EXCHANGES:,} exchanges: {growth:6.2f} MiB"
            f" (target < 5 MB; {failed} failed)"
        )
        if wrk is None:
            print("STS 2 vs 1 workers: skipped, wrk not found (apt-get install wrk)")
        else:
            ratios = []
            for i in range(PAIRS):
                order = (1, 2) if i % 2 == 0 else (2, 1)
                rates = {workers: sts_rate(wrk, directory, workers) for workers in order}
                ratios.append(rates[2] / rates[1])
                print(
                    f"STS exchange  1 worker {rates[1]:8,.0f} /s   2 workers {rates[2]:8,.0f} /s"
                    f"   2/1 {ratios[-1]:5.2f}x"
                )
            print(
                f"STS exchanges/s, 2 workers vs 1: {statistics.median(ratios):5.2f}x (target 1.6x)"
            )


if __name__ == "__main__":
    main()
