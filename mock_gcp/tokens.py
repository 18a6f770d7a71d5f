"""Opaque tokens the stand-in issues (STS federated tokens, service-account access tokens).

Real Google tokens are opaque to clients; the stand-in remembers what each one stands for
(caller, scopes, expiry) in memory. Thread-safe; expired entries are dropped as new ones
are issued, so memory stays bounded by the number of live tokens.

A token also dies with what it stands for, read from the current topology at use time: a
federated token when its pool is disabled or deleted ("You cannot use a disabled pool to
exchange tokens, or use existing tokens to access resources", iam.v1.json
``WorkloadIdentityPool.disabled``; a disabled *provider* only stops new exchanges), a service
account's token when the account is disabled or deleted (iam.v1.json ``ServiceAccount.disabled``).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from mock_gcp.iam import Caller
from mock_gcp.topology import Topology

TokenKind = Literal["federated", "access"]

# Google's prefixes: STS federated tokens and service-account access tokens both start with
# "ya29."; the second letter group differs by kind in practice. Clients must not parse them.
_PREFIX = {"federated": "ya29.d.", "access": "ya29.c."}


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


def revocation(topology: Topology, issued: IssuedToken) -> str | None:
    """Why ``issued`` can no longer be used under ``topology``, or None while it can."""
    caller = issued.caller
    if issued.kind == "federated":
        pool_id = (caller.pool_name or "").rpartition("/")[2]
        pool = topology.pool(pool_id)
        if pool is None:
            return f"pool {pool_id} no longer exists"
        return f"pool {pool_id} is disabled" if pool.disabled else None
    if caller.kind == "serviceAccount":
        account = topology.service_account(caller.name)
        if account is None:
            return f"service account {caller.name} no longer exists"
        return f"service account {caller.name} is disabled" if account.disabled else None
    return None


class TokenStore:
    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        topology: Callable[[], Topology] | None = None,
    ):
        self._clock = clock
        self._topology = topology
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()
        self._next_purge = 0.0

    def issue(
        self,
        kind: TokenKind,
        caller: Caller,
        lifetime: float,
        scopes: tuple[str, ...] = (),
        provider: str | None = None,
    ) -> IssuedToken:
        now = self._clock()
        token = IssuedToken(
            token=_PREFIX[kind] + secrets.token_urlsafe(96),
            kind=kind,
            caller=caller,
            scopes=scopes,
            issued_at=now,
            expires_at=now + lifetime,
            provider=provider,
        )
        with self._lock:
            self._tokens[token.token] = token
            if now >= self._next_purge:
                self._purge(now)
        return token

    def find(self, token: str) -> IssuedToken | None:
        """The unexpired token, or None when unknown or expired (revoked or not)."""
        found = self._tokens.get(token)
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

    def __len__(self) -> int:
        return len(self._tokens)

    def _purge(self, now: float) -> None:
        for key in [k for k, t in self._tokens.items() if t.expires_at <= now]:
            del self._tokens[key]
        self._next_purge = now + 60
