"""The journal's settings, shared by Google's side and every Cloud Run front end.

| variable | field | meaning |
|---|---|---|
| WIFLAB_JOURNAL | enabled | ``on`` (default) or ``off``: the off switch (benchmarks) |
| WIFLAB_JOURNAL_FILE | file | the file the stack's parts share; unset: this process's memory |
| WIFLAB_JOURNAL_SIZE | size | how many entries it keeps (the last N; default 1000) |
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mock_gcp.journal.chains import DEFAULT_SIZE
from mock_gcp.journal.store import Journal, open_journal

MAX_SIZE = 1_000_000
_SWITCH = {"on": True, "1": True, "true": True, "off": False, "0": False, "false": False}


class JournalSettingsError(ValueError):
    """A journal setting is invalid: the message names the variable."""


@dataclass(frozen=True)
class JournalSettings:
    file: Path | None = None
    size: int = DEFAULT_SIZE
    enabled: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise JournalSettingsError(
                f"WIFLAB_JOURNAL_SIZE must be a whole number, not {self.size!r}"
            )
        if not 1 <= self.size <= MAX_SIZE:
            raise JournalSettingsError(
                f"WIFLAB_JOURNAL_SIZE must be between 1 and {MAX_SIZE}, not {self.size}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> JournalSettings:
        switch = environ.get("WIFLAB_JOURNAL", "on").strip().lower() or "on"
        if switch not in _SWITCH:
            raise JournalSettingsError(f"WIFLAB_JOURNAL must be on or off, not {switch!r}")
        raw_size = environ.get("WIFLAB_JOURNAL_SIZE", "").strip()
        if raw_size and not (raw_size.isascii() and raw_size.isdigit() and len(raw_size) <= 7):
            raise JournalSettingsError(
                f"WIFLAB_JOURNAL_SIZE must be a whole number, not {raw_size!r}"
            )
        file = environ.get("WIFLAB_JOURNAL_FILE", "").strip()
        return cls(
            file=Path(file) if file else None,
            size=int(raw_size) if raw_size else DEFAULT_SIZE,
            enabled=_SWITCH[switch],
        )

    def to_env(self) -> dict[str, str]:
        return {
            "WIFLAB_JOURNAL": "on" if self.enabled else "off",
            "WIFLAB_JOURNAL_FILE": "" if self.file is None else str(self.file),
            "WIFLAB_JOURNAL_SIZE": str(self.size),
        }

    def open(self, clock: Callable[[], float] = time.time) -> Journal:
        return open_journal(self.file, self.size, self.enabled, clock)
