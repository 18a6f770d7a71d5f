"""Item 10 of issue 12: private files and the IdP's key state, against a planted NAME.tmp and
a full disk."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from idp_server.app import create_app
from idp_server.keystore import STATE_FILE_NAME, create_state_file, initial_keyset
from idp_server.settings import IdpSettings
from tests.reliability.disk import fill, small_disk
from wiflab_core.private_file import write_private

SECRET = "admin-secret-for-tests-7f3a"
ADMIN = {"Authorization": f"Bearer {SECRET}"}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "disk") as directory:
        yield directory


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*.tmp"))


def test_a_planted_tmp_file_is_neither_used_nor_followed(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    planted = tmp_path / "secret.tmp"
    planted.write_text("someone else's")
    planted.chmod(0o666)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("untouched")
    (tmp_path / ".secret.tmp").symlink_to(elsewhere)

    write_private(target, "the token")

    assert target.read_text() == "the token"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert planted.read_text() == "someone else's"
    assert elsewhere.read_text() == "untouched"
    assert not target.is_symlink()


def test_key_state_ignores_a_planted_tmp_file(tmp_path: Path) -> None:
    directory = tmp_path / "idp"
    directory.mkdir()
    for name in (f"{STATE_FILE_NAME}.tmp", f".{STATE_FILE_NAME}.{os.getpid()}.tmp"):
        (directory / name).write_text("planted")
        (directory / name).chmod(0o666)
    path = create_state_file(initial_keyset(None), directory)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(json.loads(path.read_text())["keys"]) == 2
    assert (directory / f"{STATE_FILE_NAME}.tmp").read_text() == "planted"


def test_full_disk_keeps_the_old_file_and_leaves_no_tmp(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = disk / "token"
    write_private(target, "old token")
    fill(disk, monkeypatch)
    with pytest.raises(OSError, match="No space left on device"):
        write_private(target, "new token " * 2000)
    assert target.read_text() == "old token"
    assert leftovers(disk) == []


def test_rotation_on_a_full_disk_answers_507_and_keeps_every_key(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = create_state_file(initial_keyset(None), disk)
    stored = state.read_text()
    app = create_app(
        IdpSettings(issuer="https://idp.example", admin_secret=SECRET, key_state=state)
    )
    client: FlaskClient = app.test_client()
    before = client.get("/admin/keys", headers=ADMIN).get_json()["keys"]
    fill(disk, monkeypatch)

    response = client.post("/admin/keys", json={"alg": "ES256"}, headers=ADMIN)

    assert response.status_code == 507
    body = response.get_json()
    assert body["error"] == "insufficient_storage"
    assert "disk is full" in body["error_description"]
    assert client.get("/admin/keys", headers=ADMIN).get_json()["keys"] == before
    assert client.get("/certs").status_code == 200
    assert state.read_text() == stored
    assert leftovers(disk) == []


def test_wiflab_up_on_a_full_disk_says_so_in_one_line(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not os.path.ismount(disk):
        pytest.skip("needs a tmpfs: the fsync patch does not reach a child process")
    fill(disk, monkeypatch)
    result = subprocess.run(
        [sys.executable, "-m", "wiflab.cli", "up", "--state-dir", str(disk), "--port-base", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "No space left on device" in lines[0] and str(disk) in lines[0]
    assert "wiflab ready" not in result.stdout
    assert leftovers(disk) == []
