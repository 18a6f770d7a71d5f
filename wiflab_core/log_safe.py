"""Untrusted values in log lines, escaped: a caller cannot forge a line or a terminal code.

A request path is decoded before the app sees it, so ``/admin/keys/x%0A2026-01-01 INFO ...``
arrives with a real newline; claims, kids and header values can hold any character too.
Every log call that includes a value a client chose passes it through ``escaped``: control
characters (C0, DEL, C1, and the Unicode line and paragraph separators) become visible
escapes (``\\n``, ``\\x1b``, ``\\u2028``); everything else, non-ASCII text included, is kept.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\\\\]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def escaped(value: object) -> str:
    """``value`` as text safe on one log line."""
    return _CONTROL.sub(_escape, str(value))


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
