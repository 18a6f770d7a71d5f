"""State files every process of a part shares: written atomically with a strictly newer
stamp, and noticed by the others with one ``os.stat`` per read.

The IdP's key store and Google's topology in force both keep their state this way: a writer
replaces the file (``write_private``: temp file + ``os.replace``) and the readers compare the
file's stamp (inode, mtime, size) with the one they last parsed.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wiflab_core.private_file import write_private

Stamp = tuple[int, int, int]
MISSING: Stamp = (0, 0, 0)


def stamp_of(path: Path) -> Stamp:
    """The file's stamp; OSError when it cannot be read."""
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def stamp_or_missing(path: Path) -> Stamp:
    try:
        return stamp_of(path)
    except OSError:
        return MISSING


def write_stamped(path: Path, text: str) -> Stamp:
    """Replace path with text (mode 0600) and return its new stamp. The mtime is strictly
    newer than the old file's: two writes within one clock tick (and a reused inode number)
    must still look different to the other processes' stat. OSError on failure, the stored
    file untouched."""

    def newer_mtime(tmp: Path) -> None:
        try:
            previous = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            previous = 0
        mtime = max(time.time_ns(), previous + 1)
        os.utime(tmp, ns=(mtime, mtime))

    write_private(path, text, before_replace=newer_mtime)
    return stamp_of(path)


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` across processes on ``PATH.lock`` (made 0600, its directory
    0700, if missing) for the block: two writers of path never interleave."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
