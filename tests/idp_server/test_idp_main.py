"""``python -m idp_server``: the IdP starts on its own, loading no other part of wiflab."""

from __future__ import annotations

import json
import subprocess
import sys

# Runs the start up to gunicorn's loop, then prints the top-level packages loaded by then.
STARTED = """
import json, sys
from idp_server import gunicorn_app
def report(self):
    print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
gunicorn_app.IdpGunicorn.run = report
from idp_server.serve import main
sys.exit(main(["--port", "0", "--workers", "1"]))
"""


def test_the_idp_starts_without_the_lab_the_stand_in_or_the_command_line(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", STARTED],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert "wiflab idp: listening on http://127.0.0.1:" in done.stdout
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert {"idp_server", "wiflab_core", "flask", "gunicorn"} <= loaded
    assert loaded.isdisjoint({"wiflab", "wiflab_lab", "mock_gcp", "protected_app", "deploy"})


def test_bad_flags_exit_2_naming_the_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "idp_server", "--workers", "many"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "python -m idp_server: error: argument --workers" in done.stderr
