"""The real gcloud CLI, offline: a private config dir and no account, so nothing leaves here."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

NO_ACCOUNT = "You do not currently have an active account selected"


def gcloud_or_skip() -> str:
    path = shutil.which("gcloud")
    if path is None:
        pytest.skip("the Google Cloud CLI (gcloud) is not installed")
    return path


def run_gcloud(argv: list[str], config_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CLOUDSDK_CONFIG": str(config_dir),
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "1",
    }
    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
