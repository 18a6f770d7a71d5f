"""Where the demo sends each request: the stack's ``endpoints.json``, read and checked.

One format for both targets. ``wiflab up`` (the local stack) writes it with loopback URLs and
``"target": "local"``; ``deploy/`` writes the same keys with ``"target": "gcp"`` and Google's
URLs: ``sts.token_url`` https://sts.googleapis.com/v1/token, ``iamcredentials.api_endpoint``
https://iamcredentials.googleapis.com, the IdP and the services at their Cloud Run URLs, no
``metadata``. The demo reads only these keys::

    {"target": "local" | "gcp",
     "idp": {"token_url": URL},
     "sts": {"token_url": URL},
     "iamcredentials": {"api_endpoint": URL},
     "services": {NAME: {"url": URL}},
     "providers": {"POOL/PROVIDER": {"audience": "//iam.googleapis.com/projects/..."}}}

and, when present, ``mode`` (how the local stack runs). On gcp the IdP's ``/token`` is
guarded: the demo sends ``Authorization: Bearer $IDP_TOKEN_SECRET`` when that is set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TARGETS = ("local", "gcp")


class EndpointsError(ValueError):
    """An endpoints file the demo cannot use: which field, and why."""

    def __init__(self, field: str | None, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


@dataclass(frozen=True)
class Endpoints:
    target: str
    idp_token_url: str
    sts_token_url: str
    iamcredentials: str
    services: Mapping[str, str]
    providers: Mapping[str, str]  # "POOL/PROVIDER" -> the STS audience
    mode: str | None = None
    # The topology the stack (or deploy/) was set up from, when the file names it.
    topology: Path | None = None

    @classmethod
    def from_json(cls, doc: Any) -> Endpoints:
        if not isinstance(doc, dict):
            raise EndpointsError(None, "must be a JSON object")
        target = doc.get("target")
        if target not in TARGETS:
            raise EndpointsError("target", f"must be one of {', '.join(TARGETS)}, not {target!r}")
        mode, topology = doc.get("mode"), doc.get("topology")
        return cls(
            target=target,
            idp_token_url=_url(doc, "idp", "token_url"),
            sts_token_url=_url(doc, "sts", "token_url"),
            iamcredentials=_url(doc, "iamcredentials", "api_endpoint").rstrip("/"),
            services=_named_urls(doc, "services", "url"),
            providers=_named_urls(doc, "providers", "audience"),
            mode=mode if isinstance(mode, str) else None,
            topology=Path(topology) if isinstance(topology, str) and topology else None,
        )


def load_endpoints(path: Path) -> Endpoints:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EndpointsError(None, exc.strerror or "cannot be read") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise EndpointsError(None, f"not JSON ({exc})") from None
    return Endpoints.from_json(doc)


def _section(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = doc.get(name)
    if not isinstance(section, dict):
        raise EndpointsError(name, "missing (a JSON object is expected)")
    return section


def _url(doc: Mapping[str, Any], section: str, key: str) -> str:
    value = _section(doc, section).get(key)
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise EndpointsError(f"{section}.{key}", f"must be an http(s) URL, not {value!r}")
    return value


def _named_urls(doc: Mapping[str, Any], section: str, key: str) -> dict[str, str]:
    named: dict[str, str] = {}
    for name, entry in _section(doc, section).items():
        value = entry.get(key) if isinstance(entry, dict) else None
        if not isinstance(value, str) or not value:
            raise EndpointsError(f"{section}.{name}.{key}", f"must be a string, not {value!r}")
        named[name] = value
    return named
