"""`wiflab lint` against what `wiflab up` already does with a topology, in the same run.

`wiflab up` loads and validates its topology (``load_topology``), then runs lint's rules on it
(the warnings hook): the ratio says what the hook adds. Lint's first run also builds what the
IdP presets know of the providers (every preset mints its sample and longest tokens once);
later runs reuse it. The fixtures (gcloud, IAM policy, terraform) are linted for scale.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "wif.yaml"
FIXTURES = ROOT / "tests" / "lint" / "fixtures"
SECONDS = 1.0


def per_call(work: Callable[[], object], seconds: float = SECONDS) -> float:
    """Seconds per call, over about ``seconds``."""
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        work()
        count += 1
    return (time.perf_counter() - start) / count


def main() -> None:
    from mock_gcp.topology import load_topology
    from wiflab_lab.lint import lint_files

    start = time.perf_counter()
    lint_files([str(TOPOLOGY)])
    cold = time.perf_counter() - start
    load = per_call(lambda: load_topology(TOPOLOGY))
    warm = per_call(lambda: lint_files([str(TOPOLOGY)]))
    hook = per_call(lambda: lint_files([str(TOPOLOGY)], validate=False))
    print(
        f"wif.yaml: load_topology {load * 1e3:.1f} ms; `wiflab lint` {warm * 1e3:.1f} ms "
        f"(x{warm / load:.2f} of the load); `wiflab up`'s hook {hook * 1e3:.1f} ms "
        f"(x{hook / load:.2f}); lint's first run {cold * 1e3:.0f} ms (builds the presets' "
        "knowledge once)"
    )
    for fixture in sorted(FIXTURES.iterdir()):
        took = per_call(functools.partial(lint_files, [str(fixture)]), SECONDS / 2)
        print(f"{fixture.name}: lint {took * 1e3:.1f} ms (x{took / load:.2f} of wif.yaml's load)")


if __name__ == "__main__":
    main()
