"""What is wrong with a topology, in this lab's words: each problem with its path in the document.

Validators raise ``Problem`` (or any ``ValueError``); ``from_validation`` turns pydantic's
errors into the texts users have always seen, e.g.
``pools[0].providers[1].attributeMapping: google.subject is required``.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

ROOT = "topology"
Location = tuple[str | int, ...]

# pydantic's error types for the models here (pydantic dataclasses, tuples, strict scalars).
_UNKNOWN_KEY = ("unexpected_keyword_argument", "invalid_key")
_NOT_A_STRING = ("string_type", "string_too_short")


class TopologyError(ValueError):
    """A topology that cannot be used: where in the document, and why. It reads as its first
    problem (``path: message``); ``problems`` lists every one found, in document order."""

    def __init__(self, path: str, message: str, more: Sequence[tuple[str, str]] = ()):
        super().__init__(f"{path}: {message}")
        self.problems: tuple[tuple[str, str], ...] = ((path, message), *more)
        self.path = path
        self.message = message


class Problem(ValueError):
    """A validator's refusal; ``at`` continues the path below the value it validated."""

    def __init__(self, message: str, *at: str | int):
        super().__init__(message)
        self.at = at


def type_name(value: Any) -> str:
    if value is None:
        return "empty"
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    names |= {int: "a number", float: "a number"}
    return names.get(type(value), f"a {type(value).__name__}")


def path(loc: Location) -> str:
    """``pools[0].providers[1].id``; a part that starts with ``[`` (a mapping key) is kept."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.startswith("[") or not text:
            text += part
        else:
            text += f".{part}"
    return text or ROOT


def from_validation(exc: ValidationError, root: type) -> TopologyError:
    """One TopologyError listing every problem pydantic found, in document order."""
    errors = exc.errors(include_url=False)
    misspelt = {e["loc"][:-1] for e in errors if e["type"] in _UNKNOWN_KEY}
    # A misspelt key is reported before the "is required" it causes.
    errors.sort(key=lambda e: e["type"] == "missing" and e["loc"][:-1] in misspelt)
    problems = list(dict.fromkeys(_problem(e, root) for e in errors))
    return TopologyError(*problems[0], problems[1:])


def _problem(error: ErrorDetails, root: type) -> tuple[str, str]:
    kind, loc, value = error["type"], error["loc"], error["input"]
    if kind == "value_error":
        cause = error.get("ctx", {})["error"]
        return path(loc + getattr(cause, "at", ())), str(cause)
    if kind == "missing":
        return path(loc[:-1]), f"{loc[-1]} is required"
    if kind in _UNKNOWN_KEY:
        known = _known_keys(root, loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
        suggestion = f"did you mean '{hint[0]}'? " if hint else ""
        where = str(loc[-1]) if not loc[:-1] else f"{path(loc[:-1])}.{loc[-1]}"
        return where, f"unknown key; {suggestion}expected one of: {', '.join(known)}"
    if kind == "dataclass_type":
        return path(loc), f"must be a mapping, not {type_name(value)}"
    if kind == "tuple_type":
        return path(loc), f"must be a list, not {type_name(value)}"
    if kind in _NOT_A_STRING:
        return path(loc), f"must be a non-empty string, not {type_name(value)}"
    if kind == "bool_type":
        return path(loc), f"must be true or false, not {value!r}"
    return path(loc), error["msg"]


def _known_keys(root: type, loc: Location) -> list[str]:
    """The keys the document may have at ``loc``: required ones first, as written in YAML."""
    model: type | None = root
    for part in loc:
        if isinstance(part, str) and model is not None:
            info = next((i for n, i in _fields(model) if (i.alias or n) == part), None)
            model = None if info is None else _model_in(info.annotation)
    if model is None:
        return []
    fields = sorted(_fields(model), key=lambda field: not field[1].is_required())
    return [info.alias or name for name, info in fields]


def _fields(model: type) -> list[tuple[str, FieldInfo]]:
    infos: dict[str, FieldInfo] = getattr(model, "__pydantic_fields__", {})
    return [(name, info) for name, info in infos.items() if info.init is not False]


def _model_in(annotation: Any) -> type | None:
    """The pydantic dataclass an annotation holds (``Pool``, ``tuple[Pool, ...]``, ``X | None``)."""
    if isinstance(annotation, type) and hasattr(annotation, "__pydantic_fields__"):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
