"""A full disk for tests: a tiny tmpfs filled to the last page (we are root in CI's container);
where mounting is not allowed, every fsync of a private file fails with ENOSPC instead."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_disk(mountpoint: Path) -> Iterator[Path]:
    """mountpoint, a 64 KiB tmpfs while inside (a plain directory where mounting fails)."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mountpoint)],
            capture_output=True,
        ).returncode
        == 0
    )
    try:
        yield mountpoint
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def fill(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No byte more fits in directory from now on."""
    if os.path.ismount(directory):
        fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        return

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
