"""`wiflab up --intercept` as a user runs it, in processes mode: the ready line, then a shell
that evals `wiflab env` reaches Google's hosts on the stand-in with curl (no wiflab code in it);
SIGTERM stops the proxy with the rest."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.wiflab_stack.test_up import refuses_connections, start_up


def test_up_intercept_serves_googles_hosts_to_a_shell_that_evals_wiflab_env(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    state = tmp_path / "state"
    process, endpoints = start_up(state, "--intercept", "--mode", "processes")
    try:
        intercept = endpoints.require_intercept()
        script = (
            f'eval "$({sys.executable} -m wiflab.cli env --endpoints {state / "endpoints.json"})"\n'
            "curl -sS --fail https://accounts.google.com/.well-known/openid-configuration\n"
        )
        shown = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["jwks_uri"] == "https://www.googleapis.com/oauth2/v3/certs"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    assert refuses_connections(intercept.proxy_url)
