"""Where the key set lives: in memory, or in one state file that every worker shares.

``wiflab idp serve`` writes the state file once from the key source before gunicorn starts,
then each worker opens it. Rotation through any worker rewrites it atomically (temp file +
``os.replace``) under an exclusive lock; every worker notices the change with one ``os.stat``
per request and parses the file again only when it changed. So all workers, and all
processes started from the same key source, publish the same JWKS.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from idp_server.errors import ConfigError
from idp_server.keyset import KeySet
from wiflab_core.keys import KeyLoadError, generate, load_signing_keys
from wiflab_core.state_file import stamp_of, stamp_or_missing, write_stamped

log = logging.getLogger(__name__)

STATE_FILE_NAME = "idp-keys.json"


def initial_keyset(key_source: str | None) -> KeySet:
    """Keys from PEM or JWK-set text; without a source, a fresh RS256 and ES256 key."""
    if key_source is None:
        return KeySet.initial([generate("RS256"), generate("ES256")])
    try:
        return KeySet.initial(load_signing_keys(key_source))
    except KeyLoadError as exc:
        source = "signing keys (--key-file, IDP_KEY_FILE, IDP_SIGNING_KEYS)"
        raise ConfigError(f"{source}: {exc}") from None


def create_state_file(keyset: KeySet, directory: Path | None = None) -> Path:
    """Write the state file (0600) into directory, or into a new private temp dir (0700)."""
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="wiflab-idp-"))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / STATE_FILE_NAME
    _write_atomically(path, keyset)
    return path


class KeyStore:
    """The current key set, reloaded when the state file (if any) changed."""

    def __init__(self, keyset: KeySet, path: Path | None = None):
        self._keyset = keyset
        self._path = path
        self._stamp = stamp_of(path) if path else None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> KeyStore:
        try:
            return cls(KeySet.from_state(path.read_text(encoding="utf-8")), path)
        except (OSError, KeyLoadError) as exc:
            raise ConfigError(
                f"IDP_KEY_STATE: cannot load {path}: {exc} "
                "(the file is written by 'wiflab idp serve')"
            ) from None

    def current(self) -> KeySet:
        if self._path is not None:
            self._reload_if_changed(self._path)
        return self._keyset

    def update(self, change: Callable[[KeySet], KeySet]) -> KeySet:
        """Apply change to the newest key set and store the result where every worker sees it."""
        with self._lock, _exclusive(self._path):
            if self._path is not None:
                self._reload_if_changed(self._path)
            keyset = change(self._keyset)
            if self._path is not None:
                self._stamp = _write_atomically(self._path, keyset)
            self._keyset = keyset
        return keyset

    def _reload_if_changed(self, path: Path) -> None:
        stamp = stamp_or_missing(path)
        if stamp == self._stamp:
            return
        self._stamp = stamp  # a broken file is reported once, not on every request
        try:
            self._keyset = KeySet.from_state(path.read_text(encoding="utf-8"))
        except (OSError, KeyLoadError) as exc:
            # Keep serving the last good keys rather than failing every request.
            log.error("key state %s unreadable, keeping the previous keys: %s", path, exc)


def _write_atomically(path: Path, keyset: KeySet) -> tuple[int, int, int]:
    """Through an exclusively created temporary file (``write_stamped``); OSError on failure,
    with the stored file untouched and no temporary file left."""
    return write_stamped(path, json.dumps(keyset.to_state()))


@contextmanager
def _exclusive(path: Path | None) -> Iterator[None]:
    """An exclusive lock across processes, so two rotations never interleave."""
    if path is None:
        yield
        return
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
