"""The flow explorer in headless Chromium: time to render 1,000 journal entries and the example
topology, beside the cheapest page that shows as much (1,000 plain text rows), in the same run.

One chain is run from the explorer (Try it) against a threads-mode stack; its journal
entries are copied into 1,000 entries (fresh ids, a chain per copy), handed to the page's
renderer, and timed with ``performance.now()`` in the page, layout included. The reference:
the same number of rows of the same summary text appended as plain ``<div>``s. Debian's
``chromium`` and ``chromium-driver`` are needed (.ci/browser-setup.sh); no figure is asserted.
"""

from __future__ import annotations

import copy
import statistics
import tempfile
from pathlib import Path
from typing import Any

import requests

from wiflab_lab.stack import Stack, StackOptions

TOPOLOGY = Path(__file__).resolve().parents[1] / "wif.yaml"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ENTRIES = 1000
ROUNDS = 3

_PLAIN_ROWS = """
const entries = arguments[0];
const holder = document.createElement("div");
document.body.append(holder);
const started = performance.now();
for (const e of entries) {
  const row = document.createElement("div");
  row.textContent = e.step + ". " + e.service + " " + e.method + " " + e.path + " -> " + e.status;
  holder.append(row);
}
void holder.offsetHeight;
const took = performance.now() - started;
holder.remove();
return took;
"""


def chromium() -> Any:
    """Headless Chromium from Debian, driven by selenium (nothing downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in CI's container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    return driver


def many_entries(chain: list[dict[str, Any]], count: int = ENTRIES) -> list[dict[str, Any]]:
    """``count`` entries copied from one real chain's: fresh ids, one chain per copy."""
    if not chain:
        raise ValueError("the journal recorded nothing for the chain")
    out: list[dict[str, Any]] = []
    base = 1_000_000
    while len(out) < count:
        copy_number = len(out) // len(chain)
        for entry in chain:
            if len(out) == count:
                break
            clone = copy.deepcopy(entry)
            clone["id"] = base + len(out)
            clone["chain"] = f"bench-{copy_number}"
            out.append(clone)
    return out


def measure(driver: Any, explorer_url: str) -> dict[str, float]:
    """Milliseconds (medians of ROUNDS, each in a fresh page) to render ENTRIES entries, the
    topology, and the reference rows."""
    chain = requests.post(f"{explorer_url}/api/try", json={"profile": "alice"}, timeout=60)
    chain.raise_for_status()
    entries = many_entries(chain.json()["journal"])
    topology = requests.get(f"{explorer_url}/api/topology", timeout=10).json()
    figures: dict[str, list[float]] = {"timeline_ms": [], "topology_ms": [], "plain_rows_ms": []}
    for _ in range(ROUNDS):
        driver.get(explorer_url + "/")
        driver.execute_script("return document.readyState")
        figures["plain_rows_ms"].append(driver.execute_script(_PLAIN_ROWS, entries))
        figures["timeline_ms"].append(
            driver.execute_script(
                "return window.wiflabExplorer.renderEntries(arguments[0])", entries
            )
        )
        figures["topology_ms"].append(
            driver.execute_script(
                "return window.wiflabExplorer.renderTopology(arguments[0])", topology
            )
        )
    return {name: statistics.median(values) for name, values in figures.items()}


def report(figures: dict[str, float]) -> str:
    plain = figures["plain_rows_ms"] or 1e-9
    return (
        f"explorer: {ENTRIES} journal entries rendered in {figures['timeline_ms']:.1f} ms "
        f"({figures['timeline_ms'] / plain:.1f}x {ENTRIES} plain text rows, "
        f"{figures['plain_rows_ms']:.1f} ms); the example topology drawn in "
        f"{figures['topology_ms']:.1f} ms (medians of {ROUNDS}, performance.now(), layout included)"
    )


def main() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="wiflab-bench-explorer-") as state,
        Stack(StackOptions(TOPOLOGY, Path(state), port_base=0)) as stack,
    ):
        explorer = stack.endpoints.explorer
        assert explorer is not None
        driver = chromium()
        try:
            print(report(measure(driver, explorer.url)), flush=True)
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
