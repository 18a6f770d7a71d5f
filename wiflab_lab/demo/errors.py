"""Google's refusals, read from whichever of its shapes came back.

- OAuth style (STS, and the fake IdP): ``{"error": CODE, "error_description": TEXT}``.
- Google API style (IAM Credentials): ``{"error": {"code", "message", "status", ...}}``.
- Google Front End HTML pages (Cloud Run's 401/403): the text of the page's message.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

_PAGE_MESSAGE = re.compile(r"<h2>(.+?)</h2>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
MAX_SHOWN_CHARS = 300


@dataclass(frozen=True)
class GoogleError:
    status: int | None  # None: no answer at all
    code: str  # the OAuth error code, the API status (PERMISSION_DENIED) or the HTTP reason
    message: str
    shape: str = "text"  # "oauth", "api", "page" or "text": which fields the answer had

    def __str__(self) -> str:
        status = "" if self.status is None else f"{self.status} "
        return f"{status}{self.code}: {self.message}"

    def fields(self) -> dict[str, str]:
        """The answer's own fields, named as Google names them."""
        if self.shape == "oauth":
            return {"error": self.code, "error_description": self.message}
        if self.shape == "api":
            return {"error.status": self.code, "error.message": self.message}
        return {self.shape: self.message}

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "message": self.message}


def read_error(status: int, reason: str, text: str) -> GoogleError:
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code = str(error.get("status") or reason)
            return GoogleError(status, code, str(error.get("message", "")), "api")
        if isinstance(error, str):
            return GoogleError(status, error, str(body.get("error_description", "")), "oauth")
    page = _PAGE_MESSAGE.search(text)
    if page is not None:
        message = html.unescape(_TAG.sub("", page.group(1))).strip()
        return GoogleError(status, reason, message, "page")
    shown = text.strip()
    if len(shown) > MAX_SHOWN_CHARS:
        shown = shown[:MAX_SHOWN_CHARS] + "…"
    return GoogleError(status, reason, shown or "(empty body)")
