"""The field types topology documents are built of, and the one configuration they share."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Strict, StringConstraints

from mock_gcp.iam import EMAIL
from mock_gcp.topology.errors import Problem, type_name

T = TypeVar("T")

# Unknown keys refused; documents use the REST API's camelCase names (``by_name=False`` when
# loading), Python code may construct with the field names.
DOCUMENT = ConfigDict(extra="forbid", validate_by_alias=True, validate_by_name=True)

# A string, never coerced (YAML's 1 is not "1"), never empty.
Text = Annotated[str, StringConstraints(strict=True, min_length=1)]
Flag = Annotated[bool, Strict()]


def _a_list(value: Any) -> Any:
    if not isinstance(value, list | tuple):
        raise Problem(f"must be a list, not {type_name(value)}")
    return value


# A YAML list, kept as a tuple (the models are immutable).
Items = Annotated[tuple[T, ...], BeforeValidator(_a_list)]


def matching(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise Problem(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


def unique(key: Callable[[Any], str], what: str) -> AfterValidator:
    """Refuses a second entry with the same key, at that entry's index."""

    def check(entries: tuple[Any, ...]) -> tuple[Any, ...]:
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            if key(entry) in seen:
                raise Problem(f"duplicate {what} {key(entry)!r}", i)
            seen.add(key(entry))
        return entries

    return AfterValidator(check)


def digits(what: str, length: int | None = None) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        # YAML reads an unquoted number as an int; accept it, the digits are what matter.
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not text.isascii() or not text.isdigit():
            raise Problem(f"{what} must be all digits, not {value!r}")
        if length is not None and len(text) != length:
            raise Problem(f"{what} must be {length} digits, not {len(text)}")
        return text

    return check


Email = Annotated[Text, matching(EMAIL, "an email address")]
