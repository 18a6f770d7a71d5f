"""The journal's cost and the stream's pace (issue 13), each against a reference in this run.

- The chain (mint -> exchange -> generateIdToken -> Cloud Run) with the journal on and off:
  two stacks side by side in the same process, chains alternating between them so both see
  the same machine load; p50 of each and their ratio (target: on within 5% of off). Threads
  and processes modes (in processes mode every part writes the shared journal file).
- The SSE stream keeping up with 100 chains/s: chains paced at 100/s from several clients
  while one client follows ``/wiflab/v1/journal/stream``; entries received vs produced, and
  how long after the last chain the stream delivered its last entry.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.chain import TOPOLOGY, WARMUP, Chain
from wiflab_lab.stack import Stack, StackOptions

CHAINS = 200
RATE = 100  # chains/s for the stream
STREAM_SECONDS = 3
CLIENTS = 4
OVERHEAD_TARGET = 0.05


def p50_on_off(mode: str) -> tuple[float, float]:
    with (
        tempfile.TemporaryDirectory(prefix="wiflab-bench-") as state,
        Stack(StackOptions(TOPOLOGY, Path(state) / "on", mode=mode, port_base=0)) as on,
        Stack(
            StackOptions(TOPOLOGY, Path(state) / "off", mode=mode, port_base=0, journal_size=0)
        ) as off,
    ):
        chains = {"on": Chain(on.endpoints), "off": Chain(off.endpoints)}
        samples: dict[str, list[float]] = {"on": [], "off": []}
        for _ in range(WARMUP):
            for chain in chains.values():
                chain.run()
        for i in range(CHAINS):
            # Alternate which goes first: neither always runs on a warmer cache.
            order = ("on", "off") if i % 2 == 0 else ("off", "on")
            for name in order:
                start = time.perf_counter()
                chains[name].run()
                samples[name].append((time.perf_counter() - start) * 1000)
    return statistics.median(samples["on"]), statistics.median(samples["off"])


def stream_keeps_up() -> tuple[int, int, float, float]:
    """(received, produced, achieved chains/s, seconds from the last chain to the last entry)."""
    with (
        tempfile.TemporaryDirectory(prefix="wiflab-bench-") as state,
        Stack(StackOptions(TOPOLOGY, Path(state), mode="processes", port_base=0)) as stack,
    ):
        journal = stack.endpoints.journal
        assert journal is not None
        since = requests.get(journal.url, timeout=10).json()["next"]
        received: list[int] = []
        last_seen = [0.0]
        done = threading.Event()

        def follow() -> None:
            headers = {"Last-Event-ID": str(since)}
            with requests.get(
                f"{journal.url}/stream", headers=headers, stream=True, timeout=30
            ) as response:
                for line in response.iter_lines(decode_unicode=True):
                    if line and line.startswith("data: "):
                        received.append(json.loads(line[6:])["id"])
                        last_seen[0] = time.perf_counter()
                    if done.is_set() and received and received[-1] >= target[0]:
                        return

        target = [10**18]
        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        clients = [Chain(stack.endpoints) for _ in range(CLIENTS)]
        total = RATE * STREAM_SECONDS
        start = time.perf_counter()

        def paced(i: int) -> None:
            due = start + i / RATE
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            clients[i % CLIENTS].run()

        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(paced, range(total)))
        finished = time.perf_counter()
        achieved = total / (finished - start)
        produced_to = requests.get(journal.url, timeout=10).json()["next"]
        target[0] = produced_to
        done.set()
        reader.join(15)
        produced = produced_to - since
        lag = max(0.0, last_seen[0] - finished)
        return len(set(received)), produced, achieved, lag


def main() -> None:
    for mode in ("threads", "processes"):
        on, off = p50_on_off(mode)
        ratio = on / off
        verdict = "meets" if ratio <= 1 + OVERHEAD_TARGET else "MISSES"
        print(
            f"{mode:9} chain p50: journal on {on:6.2f} ms  off {off:6.2f} ms  "
            f"on/off {ratio:5.3f}  ({verdict} the {OVERHEAD_TARGET:.0%} target, "
            f"{CHAINS} chains each, alternating)"
        )
    received, produced, achieved, lag = stream_keeps_up()
    verdict = "keeps up" if received >= produced else "FALLS BEHIND"
    print(
        f"SSE stream at {achieved:5.1f} chains/s (asked {RATE}/s, processes mode): "
        f"received {received} of {produced} entries ({received / max(produced, 1):.1%}), "
        f"last one {lag * 1000:.0f} ms after the last chain: {verdict}"
    )
