"""Tokens shortened wherever they sit in a value: what every displayed or recorded value
passes through, so a usable token never reaches a terminal, a log or a decision."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wiflab_core.wire import SIGNATURE_REMOVED

# JWTs (three base64url segments, also with Cloud Run's SIGNATURE_REMOVED_BY_GOOGLE) and
# Google's opaque OAuth tokens (ya29.*).
_TOKEN = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*|ya29\.[\w.-]+")
SHOWN_HEAD = 12
SHOWN_TAIL = 4


def shorten(token: str) -> str:
    """``eyJhbGciOiJS…x9Qw (812 chars)``: enough to tell tokens apart, too little to use one."""
    if len(token) <= SHOWN_HEAD + SHOWN_TAIL:
        return f"… ({len(token)} chars)"
    return f"{token[:SHOWN_HEAD]}…{token[-SHOWN_TAIL:]} ({len(token)} chars)"


def redact(value: Any) -> Any:
    """``value`` (JSON-like) with every token in every string shortened."""
    if isinstance(value, str):
        # Most strings hold no token: the substring tests are far cheaper than the regex.
        if "eyJ" not in value and "ya29." not in value:
            return value
        return _TOKEN.sub(_shorten_match, value)
    if isinstance(value, Mapping):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def _shorten_match(match: re.Match[str]) -> str:
    token = match.group(0)
    head, _, tail = token.rpartition(".")
    if tail == SIGNATURE_REMOVED:
        return f"{head[:SHOWN_HEAD]}….{tail}"
    return shorten(token)
