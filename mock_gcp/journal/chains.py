"""The last N entries, numbered into chains: one user action read as one story.

A chain starts where a credential enters Google's side (an STS exchange, a token from the
metadata server); a request bearing a token some chain issued joins that chain as its next
step (federated token -> service-account token or ID token -> tokeninfo, Cloud Run). Tokens
are known by ``tokens.link_key`` (a hash), never kept. The ring forgets the oldest entries,
and with them the tokens they issued.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from typing import Any

from mock_gcp.journal import entry as entries
from mock_gcp.journal.record import Record
from mock_gcp.journal.tokens import link_key

DEFAULT_SIZE = 1000


class Stored:
    """An entry's id, chain and step, the keys of the tokens its request was given (its
    chain's links), and the entry itself: a dict, or the JSON another process wrote, parsed
    only when someone reads it (numbering needs the links alone)."""

    __slots__ = ("_entry", "chain", "id", "issued", "step", "text")

    def __init__(
        self,
        entry: dict[str, Any] | bytes,
        issued: tuple[str, ...],
        *,
        entry_id: int | None = None,
        chain: str | None = None,
        step: int | None = None,
    ):
        self._entry = entry
        # The entry's JSON as the journal file holds it (written or read there), once known:
        # a rewrite of the file copies it instead of encoding the entry again.
        self.text: bytes | None = entry if isinstance(entry, bytes) else None
        self.issued = issued
        if isinstance(entry, dict):
            entry_id, chain, step = int(entry["id"]), entry.get("chain"), entry.get("step")
        assert entry_id is not None
        self.id, self.chain, self.step = entry_id, chain, step

    @property
    def entry(self) -> dict[str, Any]:
        if isinstance(self._entry, bytes):
            try:
                parsed = json.loads(self._entry)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict) or parsed.get("id") != self.id:
                # A damaged line: what its links say, never a failed read.
                parsed = {"id": self.id, "chain": self.chain, "step": self.step, "damaged": True}
            self._entry = parsed
        assert isinstance(self._entry, dict)
        return self._entry


def starts_chain(record: Record) -> bool:
    return record.decision.action == "exchange" or (
        record.service == "metadata" and bool(record.issued)
    )


class Ring:
    """Entries oldest first, at most ``size``; ids keep growing across trims and clears."""

    def __init__(self, size: int = DEFAULT_SIZE):
        if size < 1:
            raise ValueError("the journal holds at least one entry")
        self.size = size
        self.last_id = 0
        self._stored: deque[Stored] = deque()
        self._links: dict[str, str] = {}  # token key -> chain
        self._steps: dict[str, int] = {}  # chain -> its last step

    def __len__(self) -> int:
        return len(self._stored)

    def knows(self, record: Record) -> bool:
        """Whether a token ``record`` presents was issued by a chain kept here."""
        return any(link_key(token) in self._links for _, token in record.presented())

    def add(self, record: Record, now: float) -> Stored:
        """Number ``record`` (its id, chain and step), keep it, and return it."""
        entry_id = self.last_id + 1
        chain: str | None = None
        if starts_chain(record):
            chain = str(entry_id)
        else:
            keys = (link_key(token) for _, token in record.presented())
            chain = next((self._links[k] for k in keys if k in self._links), None)
        step = None if chain is None else self._steps.get(chain, 0) + 1
        built = entries.build(record, entry_id=entry_id, now=now, chain=chain, step=step)
        issued = tuple(link_key(token) for _, token in record.issued) if chain else ()
        stored = Stored(built, issued)
        self.keep(stored)
        return stored

    def keep(self, stored: Stored) -> None:
        """Keep an entry numbered here or read back from another process's journal."""
        self.last_id = max(self.last_id, stored.id)
        self._stored.append(stored)
        chain = stored.chain
        if chain is not None:
            self._steps[chain] = max(self._steps.get(chain, 0), int(stored.step or 0))
            for key in stored.issued:
                self._links[key] = chain
        while len(self._stored) > self.size:
            self._forget(self._stored.popleft())

    def _forget(self, stored: Stored) -> None:
        chain = stored.chain
        for key in stored.issued:
            if self._links.get(key) == chain:
                del self._links[key]
        if len(self._steps) > 2 * self.size:
            live = {s.chain for s in self._stored}
            self._steps = {c: n for c, n in self._steps.items() if c in live}

    def clear(self) -> None:
        """Forget every entry; ids go on from the last one (followers' ``since`` stays valid)."""
        self._stored.clear()
        self._links.clear()
        self._steps.clear()

    def stored(self) -> Iterable[Stored]:
        return iter(self._stored)

    def select(self, since: int = 0, chain: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """Entries with id > ``since`` (of ``chain``), oldest first, and the next ``since``.

        A ``since`` beyond the last id (a journal started afresh) reads from the start."""
        found, following = self.select_stored(since, chain)
        return [s.entry for s in found], following

    def select_stored(self, since: int = 0, chain: str | None = None) -> tuple[list[Stored], int]:
        """``select``'s entries as kept: another process's still unparsed (parsed when read,
        which a caller holding a lock may do after releasing it)."""
        if since > self.last_id:
            since = 0
        # Ids grow along the ring: the entries beyond ``since`` are its tail, read from the
        # end (a follower near the end reads a few, not all N, on each new entry).
        newer: list[Stored] = []
        for stored in reversed(self._stored):
            if stored.id <= since:
                break
            if chain is None or stored.chain == chain:
                newer.append(stored)
        return newer[::-1], max(since, self.last_id)
