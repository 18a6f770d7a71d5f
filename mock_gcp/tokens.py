"""Opaque tokens the stand-in issues (STS federated tokens, service-account access tokens).

Real Google tokens are opaque to clients and good on any of Google's machines. The stand-in's
are too: each token carries what it stands for (the caller, its kind, scopes, the provider
that accepted the subject token, when it was issued and when it expires), sealed with
AES-256-GCM (``cryptography``'s AESGCM) under a key every instance shares
(``mock_gcp.key_source``). Nothing is kept per token, so memory does not grow with the number
issued, and a token one worker or instance issued is good on every other.

The shape: ``ya29.`` and a kind letter (``ya29.d.`` federated, ``ya29.c.`` access), then
base64url without padding of ``version (1) | key id (4) | nonce (12) | ciphertext + tag``. The
prefix and header are authenticated too, so a token relabelled as another kind, sealed with
another key, truncated or tampered with does not open: it is then exactly an unknown token.

A token also dies with what it stands for, read from the current topology at use time: a
federated token when its pool is disabled or deleted ("You cannot use a disabled pool to
exchange tokens, or use existing tokens to access resources", iam.v1.json
``WorkloadIdentityPool.disabled``; a disabled *provider* only stops new exchanges), a service
account's token when the account is disabled or deleted (iam.v1.json ``ServiceAccount.disabled``).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Literal

from cryptography.exceptions import InvalidTag

from mock_gcp.iam import Caller
from mock_gcp.key_source import SEALING_ID_BYTES, KeyMaterial, KeySource
from mock_gcp.projects import Projects

TokenKind = Literal["federated", "access"]

# Google's prefixes: STS federated tokens and service-account access tokens both start with
# "ya29."; the second letter group differs by kind in practice. Clients must not parse them.
_PREFIX: dict[TokenKind, str] = {"federated": "ya29.d.", "access": "ya29.c."}
_KIND_OF: dict[str, TokenKind] = {prefix: kind for kind, prefix in _PREFIX.items()}
_PREFIX_LENGTH = len("ya29.d.")
# Google's STS answers with an access_token of at most 12288 bytes (sts.v1.json).
MAX_TOKEN_LENGTH = 12288
_VERSION_JSON = 1
_VERSION_DEFLATE = 2
_NONCE_BYTES = 12
_HEADER_BYTES = 1 + SEALING_ID_BYTES
_TAG_BYTES = 16
# Payloads over this are deflated first (large mapped attributes); small ones stay as they are.
_DEFLATE_ABOVE = 512
# The plaintext is ours (authenticated): still, never inflate more than a token could carry.
_MAX_PLAINTEXT = 64 * 1024


@dataclass(frozen=True)
class IssuedToken:
    token: str
    kind: TokenKind
    caller: Caller
    scopes: tuple[str, ...]
    issued_at: float
    expires_at: float
    # For federated tokens, the provider that accepted the subject token.
    provider: str | None = None

    def expires_in(self, now: float) -> int:
        return max(0, int(self.expires_at - now))


def revocation(projects: Projects, issued: IssuedToken) -> str | None:
    """Why ``issued`` can no longer be used under ``projects``, or None while it can: its
    pool or account is looked up in the project its name carries, so a token of a project
    that was deleted is refused (unverified: Google's answer to a token of a deleted project
    is not recorded; it is answered as one of a deleted pool or account)."""
    caller = issued.caller
    if issued.kind == "federated":
        pool_id = (caller.pool_name or "").rpartition("/")[2]
        pool = projects.pool(caller.pool_name or "")
        if pool is None:
            return f"pool {pool_id} no longer exists"
        return f"pool {pool_id} is disabled" if pool.disabled else None
    if caller.kind == "serviceAccount":
        account = projects.service_account(caller.name)
        if account is None:
            return f"service account {caller.name} no longer exists"
        return f"service account {caller.name} is disabled" if account.disabled else None
    return None


def seal(material: KeyMaterial, issued: IssuedToken) -> str:
    """The token text for ``issued`` (its ``token`` field is ignored)."""
    prefix = _PREFIX[issued.kind]
    caller = issued.caller
    payload = {
        "c": [caller.kind, caller.name, caller.pool_name, list(caller.groups)],
        "a": {k: v if isinstance(v, str) else list(v) for k, v in caller.attributes.items()},
        "s": list(issued.scopes),
        "i": issued.issued_at,
        "e": issued.expires_at,
        "p": issued.provider,
    }
    # surrogatepass: a mapping can build a lone surrogate; it must come back as it went in.
    plain = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "surrogatepass"
    )
    version = _VERSION_JSON
    if len(plain) > _DEFLATE_ABOVE:
        plain, version = zlib.compress(plain, 6), _VERSION_DEFLATE
    key = material.sealing[0]
    header = bytes([version]) + key.id
    nonce = os.urandom(_NONCE_BYTES)
    sealed = key.aead.encrypt(nonce, plain, prefix.encode("ascii") + header)
    return prefix + _b64(header + nonce + sealed)


def unseal(material: KeyMaterial, token: str) -> IssuedToken | None:
    """What ``token`` stands for, or None when it is none of ours (any key in ``material``)."""
    kind = _KIND_OF.get(token[:_PREFIX_LENGTH])
    if kind is None or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(_padded(token[_PREFIX_LENGTH:]))
    except (binascii.Error, ValueError):
        return None
    if len(raw) < _HEADER_BYTES + _NONCE_BYTES + _TAG_BYTES:
        return None
    header, nonce = raw[:_HEADER_BYTES], raw[_HEADER_BYTES : _HEADER_BYTES + _NONCE_BYTES]
    key = material.sealing_by_id.get(header[1:])
    if key is None or header[0] not in (_VERSION_JSON, _VERSION_DEFLATE):
        return None
    aad = token[:_PREFIX_LENGTH].encode("ascii") + header
    try:
        plain = key.aead.decrypt(nonce, raw[_HEADER_BYTES + _NONCE_BYTES :], aad)
        if header[0] == _VERSION_DEFLATE:
            inflater = zlib.decompressobj()
            plain = inflater.decompress(plain, _MAX_PLAINTEXT)
        return _issued(token, kind, json.loads(plain.decode("utf-8", "surrogatepass")))
    except (InvalidTag, zlib.error, ValueError, TypeError, KeyError, IndexError):
        return None


def _issued(token: str, kind: TokenKind, payload: dict[str, Any]) -> IssuedToken:
    caller_kind, name, pool_name, groups = payload["c"]
    attributes = {k: v if isinstance(v, str) else tuple(v) for k, v in payload["a"].items()}
    return IssuedToken(
        token=token,
        kind=kind,
        caller=Caller(caller_kind, name, pool_name, tuple(groups), MappingProxyType(attributes)),
        scopes=tuple(payload["s"]),
        issued_at=float(payload["i"]),
        expires_at=float(payload["e"]),
        provider=payload["p"],
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _padded(text: str) -> bytes:
    if not text.isascii() or "=" in text:
        raise ValueError("not base64url without padding")
    return (text + "=" * (-len(text) % 4)).encode("ascii")


class TokenStore:
    """Issues and opens sealed tokens; it keeps nothing per token."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        topology: Callable[[], Projects] | None = None,
        keys: KeySource | None = None,
    ):
        self._clock = clock
        self._topology = topology
        self._keys = keys or KeySource()

    def issue(
        self,
        kind: TokenKind,
        caller: Caller,
        lifetime: float,
        scopes: tuple[str, ...] = (),
        provider: str | None = None,
    ) -> IssuedToken:
        now = self._clock()
        unsealed = IssuedToken(
            token="",
            kind=kind,
            caller=caller,
            scopes=scopes,
            issued_at=now,
            expires_at=now + lifetime,
            provider=provider,
        )
        return replace(unsealed, token=seal(self._keys.current(), unsealed))

    def find(self, token: str) -> IssuedToken | None:
        """The unexpired token, or None when unknown or expired (revoked or not)."""
        found = unseal(self._keys.current(), token)
        if found is None or found.expires_at <= self._clock():
            return None
        return found

    def revoked(self, issued: IssuedToken) -> str | None:
        """Why the current topology no longer honours ``issued`` (None: it does)."""
        return None if self._topology is None else revocation(self._topology(), issued)

    def lookup(self, token: str) -> IssuedToken | None:
        """The live token, or None when unknown, expired or revoked."""
        found = self.find(token)
        if found is None or self.revoked(found) is not None:
            return None
        return found
