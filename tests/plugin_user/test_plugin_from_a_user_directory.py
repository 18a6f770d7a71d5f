"""The README's example test file, run as a user runs it: copied into an empty directory of its
own, where pytest finds the wiflab plugin only through its pytest11 entry point."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).with_name("example_user_tests.py")


def test_the_example_user_file_passes_with_the_installed_plugin(tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "test_my_wif_code.py")
    # Nothing of this repository's pytest run leaks in: no options, no xdist worker state.
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_my_wif_code.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^plugins: .*\bwiflab-", done.stdout, re.M), done.stdout
    assert re.search(r"\b5 passed\b", done.stdout), done.stdout
    assert f"rootdir: {tmp_path}" in done.stdout
