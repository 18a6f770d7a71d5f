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

from mock_gcp.settings import SettingsError, check_url, required


@dataclass(frozen=True)
class ExplorerSettings:
    google_url: str
    endpoints_file: Path

    def __post_init__(self) -> None:
        check_url("WIFLAB_EXPLORER_GOOGLE", self.google_url, SettingsError)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ExplorerSettings:
        return cls(
            google_url=required(environ, "WIFLAB_EXPLORER_GOOGLE"),
            endpoints_file=Path(required(environ, "WIFLAB_EXPLORER_ENDPOINTS")),
        )

    def to_env(self) -> dict[str, str]:
        return {
            "WIFLAB_EXPLORER_GOOGLE": self.google_url,
            "WIFLAB_EXPLORER_ENDPOINTS": str(self.endpoints_file),
        }
