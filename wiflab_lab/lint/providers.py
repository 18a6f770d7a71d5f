"""What lint knows of the real identity providers, taken from the IdP's presets
(``idp_server.presets``: one source of truth): which issuers are shared by every customer,
which mutable name claims have an immutable id, which claims carry ids as strings, and the
longest realistic subject each one mints."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mock_gcp.topology.resources import SHARED_ISSUERS

# A fixed "now" for the claims lint evaluates mappings on (only their shape matters).
_NOW = 1_800_000_000
_PLACEHOLDER = re.compile(r"\\\{[^}]*\\\}")
_PLACEHOLDER_TEXT = re.compile(re.escape("[^/]+"))


@dataclass(frozen=True)
class KnownProvider:
    name: str
    title: str
    issuer: re.Pattern[str]  # the real issuer, its {param}s matching one path segment
    issuer_path: str  # /presets/NAME on the lab's IdP
    shared_issuer: bool
    id_claims: Mapping[str, str]  # mutable name claim -> its immutable id claim
    string_id_claims: frozenset[str]
    template_source: str | None
    # Top-level claims a realistic token carries as strings (ids, run numbers, ...).
    string_claims: frozenset[str]
    # The claims of the longest realistic subject (None: the preset cannot say).
    # (issuer, audience, the topology's own params for the preset) -> claims.
    longest: Callable[[str, str | None, Mapping[str, str]], dict[str, Any] | None] = field(
        compare=False
    )

    def matches(self, issuer: str | None) -> bool:
        if issuer is None:
            return False
        issuer = issuer.rstrip("/")
        return bool(self.issuer.fullmatch(issuer)) or issuer.endswith(self.issuer_path)


def _issuer_pattern(real_issuer: str) -> re.Pattern[str]:
    return re.compile(_PLACEHOLDER.sub("[^/]+", re.escape(real_issuer.rstrip("/"))))


def from_preset(preset: Any) -> KnownProvider:
    """A KnownProvider from anything shaped like ``idp_server.presets.Preset``."""

    def longest(issuer: str, audience: str | None, own: Mapping[str, str]) -> dict[str, Any] | None:
        # The claims of the token with the longest sub: the preset's longest params and
        # variant where it names them (beyond the contract), its longest_subject() anyway;
        # the topology's own params (idp.presets: the user's repository, ...) over them.
        variant = getattr(preset, "longest_variant", None)
        params = {**(getattr(preset, "longest", None) or {}), **own}
        try:
            claims = dict(
                preset.claims(variant, issuer=issuer, audience=audience, now=_NOW, **params)
            )
            claims["sub"] = preset.longest_subject(**own)
        except Exception:  # a preset that cannot mint without more params: no opinion
            return None
        return claims

    template = getattr(preset, "template", None)
    try:
        sample = preset.claims(
            None, issuer=preset.real_issuer, audience=preset.default_audience, now=_NOW
        )
    except Exception:  # a preset that needs params to mint: its declared string ids only
        sample = {}
    strings = frozenset(k for k, v in sample.items() if isinstance(v, str))
    return KnownProvider(
        name=preset.name,
        title=preset.title,
        issuer=_issuer_pattern(preset.real_issuer),
        issuer_path=preset.issuer_path.rstrip("/"),
        shared_issuer=bool(preset.shared_issuer),
        id_claims=dict(preset.id_claims),
        string_id_claims=frozenset(preset.string_id_claims),
        template_source=getattr(template, "source", None),
        string_claims=strings | frozenset(preset.string_id_claims),
        longest=longest,
    )


def known_providers(presets: Mapping[str, Any] | None = None) -> tuple[KnownProvider, ...]:
    """The presets' knowledge; ``presets`` defaults to the IdP's own."""
    if presets is None:
        return _idp_presets()
    return tuple(from_preset(p) for p in presets.values())


@functools.cache
def _idp_presets() -> tuple[KnownProvider, ...]:
    from idp_server.presets import PRESETS

    return tuple(from_preset(p) for p in PRESETS.values())


def identify(issuer: str | None, known: tuple[KnownProvider, ...]) -> KnownProvider | None:
    """The provider whose issuer this is; of several (Kubernetes' https://{cluster_host}
    matches most), the most specific: the one with the most literal text."""
    found = [k for k in known if k.matches(issuer)]
    return max(found, key=lambda k: len(_PLACEHOLDER_TEXT.sub("", k.issuer.pattern)), default=None)


def is_shared_issuer(issuer: str | None, known: tuple[KnownProvider, ...]) -> bool:
    if issuer is None:
        return False
    if issuer.rstrip("/") in SHARED_ISSUERS:
        return True
    found = identify(issuer, known)
    return (
        found is not None
        and found.shared_issuer
        and bool(found.issuer.fullmatch(issuer.rstrip("/")))
    )
