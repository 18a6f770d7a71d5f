"""Opaque tokens the stand-in issues (STS federated tokens, service-account access tokens).

Real Google tokens are opaque to clients; the stand-in remembers what each one stands for
(caller, scopes, expiry) in memory. Thread-safe; expired entries are dropped as new ones
are issued, so memory stays bounded by the number of live tokens.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from mock_gcp.iam import Caller

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


class TokenStore:
    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
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

    def lookup(self, token: str) -> IssuedToken | None:
        """The live token, or None when unknown or expired."""
        found = self._tokens.get(token)
        if found is None or found.expires_at <= self._clock():
            return None
        return found

    def __len__(self) -> int:
        return len(self._tokens)

    def _purge(self, now: float) -> None:
        for key in [k for k, t in self._tokens.items() if t.expires_at <= now]:
            del self._tokens[key]
        self._next_purge = now + 60
