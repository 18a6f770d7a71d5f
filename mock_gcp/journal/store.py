"""Where the journal lives: one process's memory, or one file the whole stack shares.

The stack runs Google's side and every Cloud Run front end as separate processes (and may
run several gunicorn workers each); each records what it decided, and ``wiflab log`` must
read one story. So the stack's journal is one append-only file of JSON lines in its state
dir: a writer takes an ``fcntl`` lock (a lock file beside it, which survives the rewrites),
first reads what the others appended since it last looked (to number ids and chains on top
of theirs), appends its line, and once the file holds twice N entries rewrites it to the last
N. Readers follow the file the same way. Chosen over a database (sqlite would serialise the
same writes, and add a dependency in every image), over a socket to one owner (one more part
that can die), and over memory only (the front ends' entries would be lost to the others).
In threads mode every part is in one process and shares Google's backend: its in-memory
journal is then the stack's one journal (as for a GoogleBackend built without a state dir).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mock_gcp.journal.chains import DEFAULT_SIZE, Ring, Stored
from mock_gcp.journal.record import Record

# How often a follower of the file looks for new lines (the SSE stream, `wiflab log -f`).
POLL_SECONDS = 0.05


# How long a deferred record waits for the ones before it (a response never closed: skipped).
TURN_SECONDS = 1.0


class Turns:
    """The order of records deferred until their response is sent (``Journal.reserve``):
    each takes a ticket when its response is ready and is recorded in ticket order, so a
    chain's next request, which its client sends only once it has this answer, is never
    numbered before it."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._next = 0  # the next ticket to hand out
        self._serving = 0  # tickets below this are recorded (or given up on)

    def take(self) -> int:
        with self._changed:
            ticket = self._next
            self._next += 1
            return ticket

    def wait_turn(self, ticket: int) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._serving >= ticket, TURN_SECONDS):
                self._serving = ticket  # the ones before never came: not waited for again

    def done(self, ticket: int) -> None:
        with self._changed:
            self._serving = max(self._serving, ticket + 1)
            self._changed.notify_all()

    def flush(self) -> None:
        """Wait until every ticket handed out so far is recorded."""
        with self._changed:
            target = self._next
            if not self._changed.wait_for(lambda: self._serving >= target, TURN_SECONDS):
                # A response never closed: its record comes when it comes, not waited for.
                self._serving = target


class Journal:
    """The interface: ``record`` one request (now, or ``reserve`` then ``record_in_turn``
    once its response is sent), ``select`` entries, ``clear``, ``wait``."""

    enabled = True

    def __init__(self) -> None:
        self.turns = Turns()

    def reserve(self) -> int:
        """A place in line for a record made once its response is sent (off the request's
        path: the client has its answer while the entry is built and written)."""
        return self.turns.take()

    def record_in_turn(self, ticket: int, record: Record) -> dict[str, Any] | None:
        self.turns.wait_turn(ticket)
        try:
            return self._record(record)
        finally:
            self.turns.done(ticket)

    def record(self, record: Record) -> dict[str, Any] | None:
        self.turns.flush()  # the records deferred before this one first
        return self._record(record)

    def select(self, since: int = 0, chain: str | None = None) -> tuple[list[dict[str, Any]], int]:
        self.turns.flush()
        return self._select(since, chain)

    def clear(self) -> None:
        self.turns.flush()
        self._clear()

    def wait(self, since: int, timeout: float) -> bool:
        """Block until an entry beyond ``since`` exists (True) or ``timeout`` passes."""
        raise NotImplementedError

    def _record(self, record: Record) -> dict[str, Any] | None:
        raise NotImplementedError

    def _select(self, since: int, chain: str | None) -> tuple[list[dict[str, Any]], int]:
        raise NotImplementedError

    def _clear(self) -> None:
        raise NotImplementedError


class NoJournal(Journal):
    """The journal switched off (the benchmark's reference): nothing recorded, nothing served."""

    enabled = False

    def _record(self, record: Record) -> dict[str, Any] | None:
        return None

    def _select(self, since: int, chain: str | None) -> tuple[list[dict[str, Any]], int]:
        return [], since

    def _clear(self) -> None:
        return None

    def wait(self, since: int, timeout: float) -> bool:
        time.sleep(min(timeout, 1.0))
        return False


class MemoryJournal(Journal):
    """The last ``size`` entries in this process."""

    def __init__(self, size: int = DEFAULT_SIZE, clock: Callable[[], float] = time.time):
        super().__init__()
        self._ring = Ring(size)
        self._clock = clock
        self._changed = threading.Condition()

    def _record(self, record: Record) -> dict[str, Any] | None:
        with self._changed:
            stored = self._ring.add(record, record.time or self._clock())
            self._changed.notify_all()
        return stored.entry

    def _select(self, since: int, chain: str | None) -> tuple[list[dict[str, Any]], int]:
        with self._changed:
            return self._ring.select(since, chain)

    def _clear(self) -> None:
        with self._changed:
            self._ring.clear()

    def wait(self, since: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._ring.last_id > since, timeout)


def dumps(value: Any) -> str:
    """One JSON line: strict JSON (no NaN), ASCII (a lone surrogate in a claim is escaped)."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)
    except ValueError:
        return json.dumps(_finite(value), separators=(",", ":"), allow_nan=False, default=str)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class FileJournal(Journal):
    """The last ``size`` entries of every process that records into ``path``."""

    def __init__(
        self, path: Path, size: int = DEFAULT_SIZE, clock: Callable[[], float] = time.time
    ):
        super().__init__()
        self.path = Path(path)
        self.size = size
        self._clock = clock
        self._ring = Ring(size)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._mutex = threading.Lock()  # this process's threads
        self._inode: int | None = None
        self._offset = 0
        self._lines = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)

    @contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        with self._mutex:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                yield
            finally:
                os.close(fd)  # closing releases the lock

    def _follow(self) -> None:
        """Read the lines appended (by any process) since this one last looked."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            if self._inode is not None:
                self._restart(None)
            return
        try:
            status = os.fstat(fd)
            if status.st_ino != self._inode or status.st_size < self._offset:
                self._restart(status.st_ino)
            if status.st_size == self._offset:
                return
            os.lseek(fd, self._offset, os.SEEK_SET)
            data = os.read(fd, status.st_size - self._offset)
        finally:
            os.close(fd)
        end = data.rfind(b"\n") + 1  # a line still being written is read next time
        for line in data[:end].splitlines():
            self._apply(line)
        self._offset += end

    def _restart(self, inode: int | None) -> None:
        last = self._ring.last_id
        self._ring = Ring(self.size)
        self._ring.last_id = last
        self._inode, self._offset, self._lines = inode, 0, 0

    def _apply(self, line: bytes) -> None:
        """One line: ``{"base": LAST_ID}`` (a clear, a rewrite), or the entry's links
        ``{"id", "chain", "step", "issued"}``, a tab, and the entry (JSON escapes every tab
        inside it), left unparsed until read."""
        links, tab, entry = line.partition(b"\t")
        try:
            value = json.loads(links)
        except ValueError:
            return  # not ours: skipped, never fatal
        if not isinstance(value, dict):
            return
        self._lines += 1
        if "base" in value and isinstance(value["base"], int):
            self._ring.clear()
            self._ring.last_id = max(self._ring.last_id, value["base"])
            return
        entry_id, chain, step = value.get("id"), value.get("chain"), value.get("step")
        issued = value.get("issued") or []
        if (
            tab
            and isinstance(entry_id, int)
            and (chain is None or isinstance(chain, str))
            and (step is None or isinstance(step, int))
            and isinstance(issued, list)
        ):
            keys = tuple(str(key) for key in issued)
            self._ring.keep(Stored(entry, keys, entry_id=entry_id, chain=chain, step=step))

    def _line(self, stored: Stored) -> bytes:
        links: dict[str, Any] = {"id": stored.id, "chain": stored.chain, "step": stored.step}
        links["issued"] = list(stored.issued)
        if stored.text is None:
            stored.text = dumps(stored.entry).encode()
        return (dumps(links) + "\t").encode() + stored.text + b"\n"

    def _append(self, data: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
            status = os.fstat(fd)
        finally:
            os.close(fd)
        self._inode, self._offset = status.st_ino, status.st_size

    def _rewrite(self, stored: list[Stored]) -> None:
        """The file anew: a base line (the last id so far), then ``stored``."""
        body = (dumps({"base": self._ring.last_id}) + "\n").encode()
        body += b"".join(self._line(s) for s in stored)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, body)
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        self._inode, self._offset = os.stat(self.path).st_ino, len(body)
        self._lines = 1 + len(stored)

    def _record(self, record: Record) -> dict[str, Any] | None:
        # A Cloud Run call bearing a Google-signed token it verified: the entry that issued
        # the token may still be on its way from Google's side (recorded once its response
        # was sent, in another process). Wait for it a little rather than break the chain.
        for pause in LINK_PAUSES if _awaits_link(record) else ():
            with self._locked(exclusive=True):
                self._follow()
                if self._ring.knows(record):
                    break
            time.sleep(pause)
        with self._locked(exclusive=True):
            self._follow()
            stored = self._ring.add(record, record.time or self._clock())
            line = self._line(stored)
            # _follow's offset is the file's end: appending there keeps this process in step.
            self._append(line)
            self._lines += 1
            if self._lines > 2 * self.size:
                self._rewrite(list(self._ring.stored()))
        return stored.entry

    def _select(self, since: int, chain: str | None) -> tuple[list[dict[str, Any]], int]:
        with self._locked(exclusive=False):
            self._follow()
            found, following = self._ring.select_stored(since, chain)
        # Parsed once the lock is released: a follower far behind never holds up the writers.
        return [s.entry for s in found], following

    def _clear(self) -> None:
        with self._locked(exclusive=True):
            self._follow()
            self._ring.clear()
            self._rewrite([])

    def wait(self, since: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            with self._locked(exclusive=False):
                self._follow()
                if self._ring.last_id > since:
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(POLL_SECONDS, left))


# How long (in steps) a Cloud Run entry waits for the entry that issued its token: 0.1 s.
LINK_PAUSES = (0.002, 0.004, 0.008, 0.016, 0.03, 0.04)


def _awaits_link(record: Record) -> bool:
    signature = record.decision.check("token.signature")
    return record.service == "run" and signature is not None and signature.passed


def open_journal(
    path: Path | None,
    size: int = DEFAULT_SIZE,
    enabled: bool = True,
    clock: Callable[[], float] = time.time,
) -> Journal:
    if not enabled:
        return NoJournal()
    if path is None:
        return MemoryJournal(size, clock)
    return FileJournal(path, size, clock)
