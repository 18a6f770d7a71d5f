"""A Cloud Run front end's settings: one frozen dataclass, built in Python or from ``WIFLAB_*``.

| variable | field | meaning |
|---|---|---|
| WIFLAB_TOPOLOGY | topology | the topology file |
| WIFLAB_RUN_SERVICE | service | the service's name there |
| WIFLAB_RUN_SERVICE_URL | service_url | the URL callers use, hence the ``aud`` expected |
| WIFLAB_RUN_UPSTREAM | upstream_url | the service's app |
| WIFLAB_GOOGLE_CERTS_URL | google_certs_url | the JWKS of Google's ID-token issuer |
| WIFLAB_GOOGLE_ISSUER | google_issuer | its ``iss`` (Google's own spellings are accepted too) |
| WIFLAB_RUN_APP_SECRET | app_secret | optional: sent to the app in ``X-Wiflab-Front-End`` |
| WIFLAB_JOURNAL* | journal | optional: where it records (``mock_gcp.journal.settings``) |
| WIFLAB_TOPOLOGY_STATE | topology_state | optional: the run-time topology's state file |
| WIFLAB_GOOGLE_KEYS | google_keys | optional: Google's key source, read instead of the certs URL |
| WIFLAB_RUN_PROJECT | project | optional: the project (number or id) whose service it is |
| WIFLAB_MORE_TOPOLOGIES | more_topologies | optional: the other projects' files (os.pathsep) |

The first six are required.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mock_gcp.journal.settings import JournalSettings
from mock_gcp.settings import SettingsError, check_url, optional_path, path_list, required


class FrontEndConfigError(SettingsError):
    """The front end cannot start: the message names the setting."""


_URLS = {
    "service_url": "WIFLAB_RUN_SERVICE_URL",
    "upstream_url": "WIFLAB_RUN_UPSTREAM",
    "google_certs_url": "WIFLAB_GOOGLE_CERTS_URL",
    "google_issuer": "WIFLAB_GOOGLE_ISSUER",
}


@dataclass(frozen=True)
class FrontEndSettings:
    topology: Path
    service: str
    service_url: str
    upstream_url: str
    google_certs_url: str
    google_issuer: str
    app_secret: str = dataclasses.field(default="", repr=False)
    journal: JournalSettings = dataclasses.field(default_factory=JournalSettings)
    topology_state: Path | None = None
    # Google's key source (mock_gcp.key_source) when the front end shares it: new issuer keys
    # are then known at once, with no JWKS fetch.
    google_keys: Path | None = None
    # The project whose service this is, by number or id, when the Google side serves many
    # (mock_gcp.projects); None: the first that has a service of that name, the default first.
    project: str | None = None
    # The other projects the Google side loaded at start (their callers' accounts are found).
    more_topologies: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if not self.service.strip():
            raise FrontEndConfigError("WIFLAB_RUN_SERVICE is required")
        for field, name in _URLS.items():
            check_url(name, getattr(self, field), FrontEndConfigError)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> FrontEndSettings:
        def get(name: str) -> str:
            return required(environ, name, FrontEndConfigError)

        return cls(
            topology=Path(get("WIFLAB_TOPOLOGY")),
            service=get("WIFLAB_RUN_SERVICE"),
            service_url=get("WIFLAB_RUN_SERVICE_URL"),
            upstream_url=get("WIFLAB_RUN_UPSTREAM"),
            google_certs_url=get("WIFLAB_GOOGLE_CERTS_URL"),
            google_issuer=get("WIFLAB_GOOGLE_ISSUER"),
            app_secret=environ.get("WIFLAB_RUN_APP_SECRET", "").strip(),
            journal=JournalSettings.from_env(environ),
            topology_state=optional_path(environ, "WIFLAB_TOPOLOGY_STATE"),
            google_keys=optional_path(environ, "WIFLAB_GOOGLE_KEYS"),
            project=environ.get("WIFLAB_RUN_PROJECT", "").strip() or None,
            more_topologies=path_list(environ, "WIFLAB_MORE_TOPOLOGIES"),
        )

    def to_env(self) -> dict[str, str]:
        return {
            "WIFLAB_TOPOLOGY": str(self.topology),
            "WIFLAB_RUN_SERVICE": self.service,
            **{name: getattr(self, field) for field, name in _URLS.items()},
            "WIFLAB_RUN_APP_SECRET": self.app_secret,
            **self.journal.to_env(),
            "WIFLAB_TOPOLOGY_STATE": str(self.topology_state or ""),
            "WIFLAB_GOOGLE_KEYS": str(self.google_keys or ""),
            "WIFLAB_RUN_PROJECT": self.project or "",
            "WIFLAB_MORE_TOPOLOGIES": os.pathsep.join(str(p) for p in self.more_topologies),
        }
