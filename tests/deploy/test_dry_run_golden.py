"""The dry run of both topologies, setup and teardown, against golden files reviewed by hand.

After a deliberate change: WIFLAB_UPDATE_GOLDENS=1 pytest tests/deploy, then review the diff of
deploy/golden/ line by line before committing it.
"""

from __future__ import annotations

import difflib
import os
import subprocess

import pytest

from deploy.shell import render
from tests.deploy.cases import CASES, KINDS, Case, wiflab


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_dry_run_matches_the_reviewed_golden(case: Case, kind: str) -> None:
    rendered = render(case.plan(kind))
    golden = case.golden(kind)
    if os.environ.get("WIFLAB_UPDATE_GOLDENS") == "1":
        golden.write_text(rendered, encoding="utf-8")
    expected = golden.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            rendered.splitlines(keepends=True),
            str(golden),
            "dry run now",
        )
    )
    assert rendered == expected, f"the dry run changed; review, then update the golden:\n{diff}"


def test_the_command_line_prints_the_same_script() -> None:
    case = CASES[0]
    result = wiflab(
        "deploy",
        "setup",
        f"--topology={case.topology}",
        "--project=my-lab-project",
        "--region=us-central1",
        "--image-tag=golden",
        "--dry-run",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == case.golden("setup").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_script_is_valid_bash(case: Case, kind: str, tmp_path) -> None:
    script = tmp_path / "plan.sh"
    script.write_text(case.golden(kind).read_text(encoding="utf-8"))
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
