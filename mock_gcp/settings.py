"""The Google side's settings: one frozen dataclass, built in Python or from ``WIFLAB_*``.

| variable | field | meaning |
|---|---|---|
| WIFLAB_TOPOLOGY | topology | the topology file (required) |
| WIFLAB_GOOGLE_ISSUER | google_issuer | the ``iss`` of Google-signed ID tokens (required) |
| WIFLAB_IDP_ISSUER | idp_issuer | the lab IdP's issuer, trusted by providers without an issuerUri |
| WIFLAB_ADMIN_SECRET | admin_secret | beyond loopback: read the journal, change the topology |
| WIFLAB_JOURNAL* | journal | the journal (``mock_gcp.journal.settings``) |
| WIFLAB_TOPOLOGY_STATE | topology_state | optional: the file a run-time topology is shared in |
| WIFLAB_PRESET_ISSUERS | preset_issuers | JSON {real issuer: lab IdP preset issuer} (local only) |
| WIFLAB_GOOGLE_KEYS | key_file | the key source all workers and instances share (made if missing) |
| WIFLAB_MORE_TOPOLOGIES | more_topologies | more projects to serve (topology files, os.pathsep) |
| WIFLAB_AWS_STS_URL | aws_sts_url | where STS executes AWS callers' requests (unset: AWS) |
| WIFLAB_JWKS_CACHE | jwks_cache | optional: a directory the workers share issuers' JWKS in |

The issuer is the stand-in's own URL by default, or https://accounts.google.com for relying
parties that insist on it.
"""

from __future__ import annotations

import json
import os
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
    # More projects served beside ``topology`` (the default one), each under its own number
    # (mock_gcp.projects); two files declaring one project refuse to load.
    more_topologies: tuple[Path, ...] = ()
    # Real providers' issuers -> the lab IdP's preset paths (LocalDeviations.preset_issuers).
    preset_issuers: Mapping[str, str] = field(default_factory=dict)
    # The lab's AWS STS (aws_side); None: the AWS host the client signed for.
    aws_sts_url: str | None = None
    # The issuers' JWKS every worker follows (wiflab_core.jwks_cache); None: each its own.
    jwks_cache: Path | None = None

    def __post_init__(self) -> None:
        check_url("WIFLAB_GOOGLE_ISSUER", self.google_issuer)
        if self.aws_sts_url is not None:
            check_url("WIFLAB_AWS_STS_URL", self.aws_sts_url)
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
            more_topologies=path_list(environ, "WIFLAB_MORE_TOPOLOGIES"),
            preset_issuers=_json_strings(environ, "WIFLAB_PRESET_ISSUERS"),
            aws_sts_url=environ.get("WIFLAB_AWS_STS_URL", "").strip() or None,
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
            "WIFLAB_MORE_TOPOLOGIES": os.pathsep.join(str(p) for p in self.more_topologies),
            "WIFLAB_PRESET_ISSUERS": json.dumps(dict(self.preset_issuers))
            if self.preset_issuers
            else "",
            "WIFLAB_AWS_STS_URL": self.aws_sts_url or "",
            "WIFLAB_JWKS_CACHE": str(self.jwks_cache or ""),
        }

    def deviations(self) -> LocalDeviations:
        return LocalDeviations(
            google_issuer=self.google_issuer,
            lab_idp_issuer=self.idp_issuer,
            preset_issuers=dict(self.preset_issuers),
            aws_sts_url=self.aws_sts_url,
        )


def _json_strings(environ: Mapping[str, str], name: str) -> dict[str, str]:
    value = environ.get(name, "").strip()
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise SettingsError(f"{name} must be a JSON object of strings")
    return parsed


def required(environ: Mapping[str, str], name: str, error: type[ValueError] = SettingsError) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise error(f"{name} is required")
    return value


def optional_path(environ: Mapping[str, str], name: str) -> Path | None:
    value = environ.get(name, "").strip()
    return Path(value) if value else None


def path_list(environ: Mapping[str, str], name: str) -> tuple[Path, ...]:
    """Paths separated by ``os.pathsep`` (empty parts skipped)."""
    return tuple(Path(p) for p in environ.get(name, "").split(os.pathsep) if p.strip())


def check_url(name: str, value: str, error: type[ValueError] = SettingsError) -> None:
    if not value.startswith(("http://", "https://")) or value != value.strip():
        raise error(f"{name} must be an http(s) URL, not {value!r}")
