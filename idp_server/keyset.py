"""The IdP's keys and what each may do: the rules of rotation, apart from where they are kept.

Each key has one status:
- ``active``: the default signer, published in /certs (exactly one key is active);
- ``published``: in /certs, signs only when asked for by ``kid`` or ``alg``;
- ``held``: signs when asked for by ``kid`` but is not in /certs, so its tokens cannot be
  verified (negative tests);
- ``retired``: neither signs nor is published; kept so the listing shows the rotation.

A key set is immutable: rotation returns a new one, so a request never sees half a change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from idp_server.errors import IdpError, invalid_request
from wiflab_core.keys import (
    SUPPORTED_ALGS,
    KeyLoadError,
    SigningKey,
    load_signing_keys,
    render_jwks,
)


class KeyStatus(StrEnum):
    ACTIVE = "active"
    PUBLISHED = "published"
    HELD = "held"
    RETIRED = "retired"


@dataclass(frozen=True)
class KeyEntry:
    key: SigningKey
    status: KeyStatus

    def describe(self) -> dict[str, str]:
        return {"kid": self.key.kid, "alg": self.key.alg, "status": self.status.value}


class KeySet:
    def __init__(self, entries: Iterable[KeyEntry]):
        self.entries = tuple(entries)
        active = [e for e in self.entries if e.status is KeyStatus.ACTIVE]
        if len(active) != 1:
            raise KeyLoadError(f"exactly one key must be active, not {len(active)}")
        self.active = active[0].key
        self._by_kid = {e.key.kid: e for e in self.entries}
        published = [e.key.public_jwk for e in self.entries if e.status in _PUBLISHED]
        # Rendered once per key set: /certs is served from these bytes.
        self.jwks_json = json.dumps(render_jwks(published)).encode("utf-8")

    @classmethod
    def initial(cls, keys: Sequence[SigningKey]) -> KeySet:
        """The first key signs, the others are published; a key given twice counts once."""
        unique = {k.kid: k for k in keys}.values()
        return cls(
            KeyEntry(k, KeyStatus.ACTIVE if i == 0 else KeyStatus.PUBLISHED)
            for i, k in enumerate(unique)
        )

    def listing(self) -> list[dict[str, str]]:
        return [e.describe() for e in self.entries]

    def signer(self, alg: str | None = None, kid: str | None = None) -> SigningKey:
        """The key for one request: by kid, else the active key or a published one of alg."""
        if alg is not None and alg not in SUPPORTED_ALGS:
            supported = ", ".join(SUPPORTED_ALGS)
            raise invalid_request(f"alg: unsupported {alg!r}; supported: {supported}")
        if kid is not None:
            key = self._usable(kid)
            if alg is not None and key.alg != alg:
                raise invalid_request(f"alg: {alg} does not match kid {kid!r}, a {key.alg} key")
            return key
        if alg is None or self.active.alg == alg:
            return self.active
        for entry in self.entries:
            if entry.status is KeyStatus.PUBLISHED and entry.key.alg == alg:
                return entry.key
        raise invalid_request(
            f"alg: no published {alg} key; add one with 'wiflab idp keys add --alg {alg}'"
        )

    def added(self, key: SigningKey, status: KeyStatus) -> KeySet:
        if key.kid in self._by_kid:
            raise IdpError(409, "conflict", f"kid {key.kid!r} is already in the key set")
        if status is KeyStatus.ACTIVE:
            return KeySet([*self._demoted_active(), KeyEntry(key, status)])
        return KeySet([*self.entries, KeyEntry(key, status)])

    def activated(self, kid: str) -> KeySet:
        """kid becomes the signer; the previous signer stays published, so its tokens verify."""
        entry = self._entry(kid)
        if entry.status is KeyStatus.RETIRED:
            raise IdpError(409, "conflict", f"kid {kid!r} is retired; add a new key instead")
        return KeySet(
            KeyEntry(e.key, KeyStatus.ACTIVE) if e.key.kid == kid else e
            for e in self._demoted_active()
        )

    def retired(self, kid: str) -> KeySet:
        entry = self._entry(kid)
        if entry.status is KeyStatus.ACTIVE:
            raise IdpError(
                409, "conflict", f"kid {kid!r} is the active signer; activate another key first"
            )
        return KeySet(
            KeyEntry(e.key, KeyStatus.RETIRED) if e.key.kid == kid else e for e in self.entries
        )

    def to_state(self) -> dict[str, Any]:
        """A JWK set of the private keys, each with its status: the state file's content."""
        return {"keys": [{**e.key.private_jwk(), "status": e.status.value} for e in self.entries]}

    @classmethod
    def from_state(cls, text: str) -> KeySet:
        keys = load_signing_keys(text)
        try:
            statuses = [KeyStatus(jwk["status"]) for jwk in json.loads(text)["keys"]]
        except (KeyError, ValueError, TypeError) as exc:
            raise KeyLoadError(f"every key in the state needs a valid status: {exc}") from None
        return cls(KeyEntry(k, s) for k, s in zip(keys, statuses, strict=True))

    def _demoted_active(self) -> list[KeyEntry]:
        return [
            KeyEntry(e.key, KeyStatus.PUBLISHED) if e.status is KeyStatus.ACTIVE else e
            for e in self.entries
        ]

    def _entry(self, kid: str) -> KeyEntry:
        entry = self._by_kid.get(kid)
        if entry is None:
            raise IdpError(404, "not_found", f"kid {kid!r} is not a key of this IdP")
        return entry

    def _usable(self, kid: str) -> SigningKey:
        entry = self._by_kid.get(kid)
        if entry is None:
            raise invalid_request(f"kid: {kid!r} is not a key of this IdP")
        if entry.status is KeyStatus.RETIRED:
            raise invalid_request(f"kid: {kid!r} is retired")
        return entry.key


_PUBLISHED = (KeyStatus.ACTIVE, KeyStatus.PUBLISHED)
