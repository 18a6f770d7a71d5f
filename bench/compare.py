"""Before and after, in one run: the chain's p50 and STS exchanges/s of another revision
beside this checkout's, measured alternately so the machine's noise falls on both.

    python -m bench.compare REV [ROUNDS]

REV is checked out into a temporary git worktree; each round runs ``bench chain`` and
``bench google_side`` there and here (the other tree first on even rounds), and the medians
of the rounds are printed with their ratio (this checkout / REV).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = {
    "threads chain p50 (ms)": ("chain", re.compile(r"^threads\s+chain:.*p50\s+([\d.]+) ms", re.M)),
    "processes chain p50 (ms)": (
        "chain",
        re.compile(r"^processes\s+chain:.*p50\s+([\d.]+) ms", re.M),
    ),
    "STS exchanges/s": ("google_side", re.compile(r"^STS exchange\s+([\d,]+) /s", re.M)),
}


def run_bench(tree: Path, name: str) -> str:
    # PYTHONPATH puts the tree's packages ahead of the editable install of this checkout.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-m", "bench", name],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench {name} failed in {tree}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def measure(tree: Path) -> dict[str, float]:
    outputs = {name: run_bench(tree, name) for name in {b for b, _ in FIGURES.values()}}
    figures = {}
    for figure, (bench, pattern) in FIGURES.items():
        match = pattern.search(outputs[bench])
        if match:
            figures[figure] = float(match[1].replace(",", ""))
    return figures


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    rev, rounds = argv[0], int(argv[1]) if len(argv) > 1 else 3
    with tempfile.TemporaryDirectory(prefix="wiflab-compare-") as tmp:
        other = Path(tmp) / "other"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(other), rev], cwd=ROOT, check=True
        )
        try:
            samples: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
            for i in range(rounds):
                order = [("before", other), ("after", ROOT)]
                for label, tree in order if i % 2 == 0 else reversed(order):
                    for figure, value in measure(tree).items():
                        samples[label].setdefault(figure, []).append(value)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, check=False
            )
    print(f"before = {rev}, after = this checkout; medians of {rounds} alternating rounds")
    for figure in FIGURES:
        before = samples["before"].get(figure)
        after = samples["after"].get(figure)
        if not before or not after:
            print(f"{figure:26} not measured (wrk missing?)")
            continue
        b, a = statistics.median(before), statistics.median(after)
        print(f"{figure:26} before {b:9.2f}  after {a:9.2f}  after/before {a / b:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
