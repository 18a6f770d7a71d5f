"""Tokens as the demo shows them: bearer tokens shortened (they are secrets), JWTs decoded.

Every value the demo prints or writes as JSON passes through ``redact`` first, so a usable
token never reaches a terminal, a CI log or a ``--json`` file, whatever field it sits in.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from wiflab_core.redact import redact, shorten

__all__ = ["DecodedJwt", "decode", "readable_time", "redact", "shorten"]

TIME_CLAIMS = ("iat", "exp", "nbf", "auth_time")


@dataclass(frozen=True)
class DecodedJwt:
    """A JWT's header and claims, decoded without verification: for reading, not trusting."""

    name: str
    header: Mapping[str, Any]
    claims: Mapping[str, Any]

    def times(self, now: float) -> dict[str, str]:
        """The time claims as readable UTC, relative to ``now``."""
        return {
            claim: readable_time(self.claims[claim], now)
            for claim in TIME_CLAIMS
            if isinstance(self.claims.get(claim), int | float)
            and not isinstance(self.claims.get(claim), bool)
        }

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "header": dict(self.header),
            "claims": redact(dict(self.claims)),
            "times": self.times(now),
        }


def decode(name: str, token: str) -> DecodedJwt | None:
    """The token's header and claims, or None when it is not a JWT (e.g. an opaque token)."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return DecodedJwt(name, header, claims)


def readable_time(epoch: float, now: float) -> str:
    """``2026-11-22 00:07:36 UTC (in 60 min)``."""
    try:
        moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return "not a time"
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC ({_relative(epoch - now)})"


def _relative(seconds: float) -> str:
    if abs(seconds) < 60:
        return "now"
    minutes = round(abs(seconds) / 60)
    amount = f"{minutes} min" if minutes < 120 else f"{round(minutes / 60)} h"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"
