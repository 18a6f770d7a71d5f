"""The Google side's settings: one frozen dataclass, built in Python or from ``WIFLAB_*``.

| variable | field | meaning |
|---|---|---|
| WIFLAB_TOPOLOGY | topology | the topology file (required) |
| WIFLAB_GOOGLE_ISSUER | google_issuer | the ``iss`` of Google-signed ID tokens (required) |
| WIFLAB_IDP_ISSUER | idp_issuer | the lab IdP's issuer, trusted by providers without an issuerUri |
| WIFLAB_ADMIN_SECRET | admin_secret | beyond loopback: read the journal, change the topology |
| WIFLAB_JOURNAL* | journal | the journal (``mock_gcp.journal.settings``) |
| WIFLAB_TOPOLOGY_STATE | topology_state | optional: the file a run-time topology is shared in |
| WIFLAB_GOOGLE_KEYS | key_file | the key source all workers and instances share (made if missing) |
| WIFLAB_JWKS_CACHE | jwks_cache | optional: a directory the workers share issuers' JWKS in |

The issuer is the stand-in's own URL by default, or https://accounts.google.com for relying
parties that insist on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mock_gcp.backend import LocalDeviations
from mock_gcp.journal.settings import JournalSettings


class SettingsError(ValueError):
    """A setting is missing or invalid: the message names the variable."""


@dataclass(frozen=True)
class GoogleSettings:
    topology: Path
    google_issuer: str
    idp_issuer: str | None = None
    journal: JournalSettings = field(default_factory=JournalSettings)
    admin_secret: str | None = field(default=None, repr=False)
    topology_state: Path | None = None
    # The shared key source (mock_gcp.key_source); None: keys of this process only.
    key_file: Path | None = None
    # The issuers' JWKS every worker follows (wiflab_core.jwks_cache); None: each its own.
    jwks_cache: Path | None = None

    def __post_init__(self) -> None:
        check_url("WIFLAB_GOOGLE_ISSUER", self.google_issuer)
        if self.idp_issuer is not None:
            check_url("WIFLAB_IDP_ISSUER", self.idp_issuer)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GoogleSettings:
        return cls(
            topology=Path(required(environ, "WIFLAB_TOPOLOGY")),
            google_issuer=required(environ, "WIFLAB_GOOGLE_ISSUER"),
            idp_issuer=environ.get("WIFLAB_IDP_ISSUER", "").strip() or None,
            journal=JournalSettings.from_env(environ),
            admin_secret=environ.get("WIFLAB_ADMIN_SECRET", "").strip() or None,
            topology_state=optional_path(environ, "WIFLAB_TOPOLOGY_STATE"),
            key_file=optional_path(environ, "WIFLAB_GOOGLE_KEYS"),
            jwks_cache=optional_path(environ, "WIFLAB_JWKS_CACHE"),
        )

    def to_env(self) -> dict[str, str]:
        return {
            "WIFLAB_TOPOLOGY": str(self.topology),
            "WIFLAB_GOOGLE_ISSUER": self.google_issuer,
            # Empty when unset: it overrides one inherited from the parent's environment.
            "WIFLAB_IDP_ISSUER": self.idp_issuer or "",
            **self.journal.to_env(),
            "WIFLAB_ADMIN_SECRET": self.admin_secret or "",
            "WIFLAB_TOPOLOGY_STATE": str(self.topology_state or ""),
            "WIFLAB_GOOGLE_KEYS": str(self.key_file or ""),
            "WIFLAB_JWKS_CACHE": str(self.jwks_cache or ""),
        }

    def deviations(self) -> LocalDeviations:
        return LocalDeviations(google_issuer=self.google_issuer, lab_idp_issuer=self.idp_issuer)


def required(environ: Mapping[str, str], name: str, error: type[ValueError] = SettingsError) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise error(f"{name} is required")
    return value


def optional_path(environ: Mapping[str, str], name: str) -> Path | None:
    value = environ.get(name, "").strip()
    return Path(value) if value else None


def check_url(name: str, value: str, error: type[ValueError] = SettingsError) -> None:
    if not value.startswith(("http://", "https://")) or value != value.strip():
        raise error(f"{name} must be an http(s) URL, not {value!r}")
