"""The layers contract (pyproject's [tool.importlinter]) holds, and breaking it fails lint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "wiflab",
    "deploy",
    "wiflab_lab",
    "idp_server",
    "mock_gcp",
    "protected_app",
    "wiflab_core",
)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    # Run from `root` with only it on the path, so grimp reads the packages there.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def copy_of_the_tree(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_the_layers(copy_of_the_tree: Path) -> None:
    done = _lint(copy_of_the_tree)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # The core imports no service.
        ("wiflab_core/keys.py", "import mock_gcp.backend", "mock_gcp.backend"),
        # Services never import the lab or each other.
        ("idp_server/app.py", "import wiflab_lab.stack", "wiflab_lab.stack"),
        ("protected_app/app.py", "import mock_gcp.iam", "mock_gcp.iam"),
    ],
)
def test_an_import_against_the_layers_fails_lint(
    copy_of_the_tree: Path, module: str, line: str, broken: str
) -> None:
    path = copy_of_the_tree / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    done = _lint(copy_of_the_tree)
    assert done.returncode != 0
    assert "BROKEN" in done.stdout
    assert broken in done.stdout
