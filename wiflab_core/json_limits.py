"""What every JSON reader in the lab accepts: bounded depth, finite numbers, real Unicode.

Python's ``json`` recurses once per level of ``[`` and ``{``: a body of a few thousand
brackets (well inside any size limit) raises ``RecursionError``, which no ``except
ValueError`` catches, and encoding a value parsed just under that limit fails later,
somewhere else. It also accepts ``NaN``, ``Infinity`` and ``1e400`` (RFC 8259 section 6 has
no such numbers, and every time rule compared with NaN is silently false), and strings with
lone UTF-16 surrogates (``"\\ud800"``: RFC 8259 section 8.2 leaves them undefined; Python
cannot encode them as UTF-8, so a size check or a signature raises).

So every reader of untrusted JSON (STS and IAM Credentials bodies, the signJwt payload, the
IdP's ``/token`` claims, a token's header and payload) goes through ``loads`` or, for a value
some other parser made, ``check_value``. Each refusal is a ``JsonInputError`` naming the
field and, inside it, the path of the offending value.

``MAX_DEPTH`` is 64 levels, counted before parsing by a scanner that skips strings. Why 64:
real inputs nest 2-4 levels (claims with a list of groups; a proto3-JSON request; the
options object); Google's own JSON parser (protobuf's) refuses at 100, so nothing accepted
here would be refused there for depth; and 64 levels is far below Python's recursion limit
(1,000) in every thread and worker, encoding included, so no reader can get near it.
"""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any

MAX_DEPTH = 64

# A JSON string (with its escapes) or one bracket: the scanner only looks at these.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


class JsonInputError(ValueError):
    """Input refused before or after parsing; ``field`` names where, ``problem`` what."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem


def check_depth(text: str, field: str, limit: int = MAX_DEPTH) -> None:
    """Refuse ``text`` nested deeper than ``limit``, without parsing it."""
    # Fewer brackets than the limit cannot nest beyond it: the common case costs two counts.
    if text.count("[") + text.count("{") <= limit:
        return
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                raise JsonInputError(field, f"nested more than {limit} levels deep")
        elif token in "]}":
            depth = max(0, depth - 1)


def check_jws_depth(token: str) -> None:
    """A compact JWS's header and payload nesting, bounded before a JWT library parses them
    (pyjwt's json.loads would recurse); segments that do not decode are left to the library."""
    for name, segment in zip(("header", "payload"), token.split(".")[:2], strict=False):
        try:
            raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        except (ValueError, TypeError):
            return
        check_depth(raw.decode("utf-8", "replace"), name)


def loads(
    data: str | bytes, field: str, *, limit: int = MAX_DEPTH, values_path: str | None = None
) -> Any:
    """Parse untrusted JSON, or ``JsonInputError`` naming ``field`` (and the path inside).

    ``values_path``: how paths inside the value start (default ``field``; ``""`` names a
    member by its own name, as the IdP names claims)."""
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode(json.detect_encoding(data))
        except UnicodeDecodeError as exc:
            raise JsonInputError(field, f"not valid JSON (not {exc.encoding} text)") from None
    else:
        text = data
    check_depth(text, field, limit)
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise JsonInputError(
            field, f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise JsonInputError(field, f"not valid JSON ({_reason(exc)})") from None
    check_value(value, field if values_path is None else values_path)
    return value


def check_value(value: Any, field: str = "") -> None:
    """Refuse non-finite numbers and strings with lone surrogates anywhere in ``value``
    (keys included), and nesting beyond ``MAX_DEPTH``; the error names the path."""
    _check(value, field, 0)


def _check(value: Any, path: str, depth: int) -> None:
    if isinstance(value, str):
        if not value.isascii() and not _encodable(value):
            raise JsonInputError(path, _surrogate_problem(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise JsonInputError(path, f"{value} is not a JSON number (numbers must be finite)")
    elif isinstance(value, dict | list):
        if depth >= MAX_DEPTH:
            raise JsonInputError(path, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, list):
            for index, item in enumerate(value):
                _check(item, f"{path}[{index}]", depth + 1)
            return
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and not key.isascii() and not _encodable(key):
                raise JsonInputError(f"{path}" or "(a key)", "a key " + _surrogate_problem(key))
            _check(item, name, depth + 1)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _surrogate_problem(text: str) -> str:
    lone = next(c for c in text if 0xD800 <= ord(c) <= 0xDFFF)
    return (
        f"contains a lone UTF-16 surrogate (\\u{ord(lone):04x}), which is not Unicode text "
        "and which JSON parsers do not round-trip"
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (numbers must be finite)")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is not a finite number")
    return number


def _reason(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
