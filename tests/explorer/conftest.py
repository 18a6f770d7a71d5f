"""The flow explorer against a real stack, in headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by selenium; nothing is downloaded). Without them the browser
tests skip with one reason, except in CI (``CI=true``), where they are required
(``.ci/browser-setup.sh`` installs them)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.explorer import CHROMEDRIVER, CHROMIUM, chromium
from wiflab_lab.stack import Stack, StackOptions
from wiflab_lab.testing import example_topology

DOCS = Path(__file__).resolve().parents[2] / "docs"


def browser_missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(Path(path).name)):
            return f"{path} is missing: apt-get install -y chromium chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is missing: pip install -e '.[dev]'"
    return None


@pytest.fixture(scope="session")
def explorer_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    options = StackOptions(example_topology(), tmp_path_factory.mktemp("explorer"), port_base=0)
    with Stack(options) as stack:
        yield stack


@pytest.fixture(scope="session")
def explorer_url(explorer_stack: Stack) -> str:
    explorer = explorer_stack.endpoints.explorer
    assert explorer is not None, "endpoints.json has no explorer section"
    return explorer.url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    missing = browser_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests are required in CI: {missing}")
        pytest.skip(missing)
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()
