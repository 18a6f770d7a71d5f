"""The google image as ``wiflab deploy shared-google`` runs it on Cloud Run: its command
``python -m deploy.shared_google``, the plan's env vars, the key source mounted as a file,
``PORT`` set. Host networking, on loopback (nothing that mints listens beyond it here)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from deploy.runner import _made
from deploy.shared_google_plan import KEYS_FILE
from tests.containers.conftest import LOOPBACK, free_port, run
from tests.deploy.test_shared_google import _deploy_command, _flag, _key_command, plan
from wiflab_core.serving import wait_ready

COMMAND = "python -m deploy.shared_google"  # the plan's --command and --args


def shared_env(port: int) -> dict[str, str]:
    env = _flag(_deploy_command(plan()).argv, "set-env-vars")
    env.update(
        WIFLAB_GOOGLE_ISSUER=f"http://{LOOPBACK}:{port}",
        WIFLAB_BIND_HOST=LOOPBACK,
        WIFLAB_ADMIN_SECRET="container-admin-secret",
    )
    return env


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """The secret as Cloud Run mounts it: a file the container's user may read."""
    path = tmp_path / "secret" / "keys.json"
    path.parent.mkdir()
    path.write_text(_made(_key_command(plan()).stdin))  # type: ignore[arg-type]
    path.chmod(0o444)
    path.parent.chmod(0o755)
    return path


def test_the_image_serves_the_shared_side_with_the_mounted_keys(images, key_file: Path) -> None:
    port = free_port()
    mounts = {str(key_file.parent): str(Path(KEYS_FILE).parent)}
    container = run(images["google"], port, shared_env(port), COMMAND, mounts)
    try:
        wait_ready(f"http://{LOOPBACK}:{port}/healthz", 90)
        certs = requests.get(f"http://{LOOPBACK}:{port}/oauth2/v3/certs", timeout=10).json()
        issuer_kids = [key["kid"] for key in json.loads(key_file.read_text())["issuer"]]
        assert [key["kid"] for key in certs["keys"]] == issuer_kids
    finally:
        container.stop()


def test_the_image_refuses_to_listen_beyond_loopback_without_the_admin_secret(
    images, key_file: Path
) -> None:
    port = free_port()
    env = {**shared_env(port), "WIFLAB_BIND_HOST": "0.0.0.0", "WIFLAB_ADMIN_SECRET": ""}
    container = run(images["google"], port, env, COMMAND)
    try:
        wrapped = container.get_wrapped_container()
        deadline = time.monotonic() + 60
        while wrapped.status != "exited" and time.monotonic() < deadline:
            time.sleep(0.5)
            wrapped.reload()
        assert wrapped.attrs["State"]["ExitCode"] == 2
        _, err = container.get_logs()
        assert b"WIFLAB_ADMIN_SECRET is required to listen beyond loopback (0.0.0.0)" in err
    finally:
        container.stop()
