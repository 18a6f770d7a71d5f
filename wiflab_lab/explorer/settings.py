"""The explorer's settings: one frozen dataclass, built in Python or from ``WIFLAB_*``.

| variable | field | meaning |
|---|---|---|
| WIFLAB_EXPLORER_GOOGLE | google_url | the local Google side (journal, topology) |
| WIFLAB_EXPLORER_ENDPOINTS | endpoints_file | the stack's endpoints.json (read when needed) |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """A setting is missing or invalid: the message names the variable."""


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is required")
    return value


@dataclass(frozen=True)
class ExplorerSettings:
    google_url: str
    endpoints_file: Path

    def __post_init__(self) -> None:
        if not self.google_url.startswith(("http://", "https://")):
            raise SettingsError(
                f"WIFLAB_EXPLORER_GOOGLE must be an http(s) URL, not {self.google_url!r}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ExplorerSettings:
        return cls(
            google_url=_required(environ, "WIFLAB_EXPLORER_GOOGLE"),
            endpoints_file=Path(_required(environ, "WIFLAB_EXPLORER_ENDPOINTS")),
        )

    def to_env(self) -> dict[str, str]:
        return {
            "WIFLAB_EXPLORER_GOOGLE": self.google_url,
            "WIFLAB_EXPLORER_ENDPOINTS": str(self.endpoints_file),
        }
