"""``wiflab --help`` and ``wiflab demo --help`` against ``python -c pass``: start-up time.

The three commands run interleaved (one of each per round, so a noisy moment hits all three),
each a fresh process from this interpreter's environment; the figures are medians, and the
ratios are against ``python -c pass`` timed in the same rounds. Goal: within 4x.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROUNDS = 41
GOAL = 4.0
# The console script users run, next to this interpreter; else the same entry point.
_SCRIPT = Path(sys.executable).with_name("wiflab")
WIFLAB = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "wiflab.cli"]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "wiflab --help": [*WIFLAB, "--help"],
    "wiflab demo --help": [*WIFLAB, "demo", "--help"],
}


def wall_time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def medians(rounds: int = ROUNDS) -> dict[str, float]:
    for argv in COMMANDS.values():  # warm the page cache and the bytecode files
        wall_time(argv)
    runs: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(rounds):
        for name, argv in COMMANDS.items():
            runs[name].append(wall_time(argv))
    return {name: statistics.median(times) for name, times in runs.items()}


def main() -> None:
    figures = medians()
    reference = figures["python -c pass"]
    print(f"start-up, median of {ROUNDS} interleaved runs ({' '.join(WIFLAB)}):")
    for name, seconds in figures.items():
        ratio = "" if name == "python -c pass" else f"  {seconds / reference:5.2f}x python -c pass"
        print(f"  {name:20} {seconds * 1000:7.1f} ms{ratio}")
    worst = max(seconds / reference for name, seconds in figures.items())
    print(f"  goal: within {GOAL:.0f}x: {'met' if worst <= GOAL else 'NOT met'}")
