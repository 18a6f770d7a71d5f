"""Files that hold tokens and secrets: written atomically, readable by the owner only.

The temporary file is created exclusively (``mkstemp``: ``O_CREAT|O_EXCL|O_NOFOLLOW``, mode
0600, a random name), so a ``NAME.tmp`` someone else left in a shared directory (their file,
mode 0666, or a symlink) is never opened, let alone trusted. A write that fails (a full disk:
``ENOSPC``) removes its temporary file and leaves the old file as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_private(
    path: Path, text: str, *, before_replace: Callable[[Path], None] | None = None
) -> None:
    """Write text to path with mode 0600; readers see the old file or the new, never half.

    ``before_replace`` is called with the finished temporary file just before it replaces
    path (the key store sets its mtime there). Raises OSError (the temporary file removed).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is None:  # a failed write names no file: name the one meant
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def is_disk_full(exc: OSError) -> bool:
    """ENOSPC or EDQUOT: no room to store anything."""
    import errno

    return exc.errno in (errno.ENOSPC, errno.EDQUOT)
