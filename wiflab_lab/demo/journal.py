"""The journal of Google's side as the demo and ``wiflab log`` read it (THE JOURNAL CONTRACT
of issue 13: ``GET URL?since=ID[&chain=ID]`` -> ``{"entries", "next"}``, ``URL/stream``)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import requests

from wiflab_core.redact import shorten

TIMEOUT_SECONDS = 10


class JournalError(Exception):
    """The journal did not answer as the contract says: the message says how."""


class JournalReader:
    def __init__(self, url: str, session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self._http = session or requests.Session()
        self._since = 0

    def read(self, since: int = 0, chain: str | None = None) -> tuple[list[dict[str, Any]], int]:
        params = {"since": str(since)}
        if chain is not None:
            params["chain"] = chain
        try:
            response = self._http.get(self.url, params=params, timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise JournalError(
                f"could not reach the journal at {self.url} ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise JournalError(
                f"the journal at {self.url} answered {response.status_code}: {response.text[:200]}"
            )
        try:
            body = response.json()
            entries, following = body["entries"], int(body["next"])
        except (ValueError, KeyError, TypeError):
            raise JournalError(f"the journal at {self.url} answered no journal") from None
        if not isinstance(entries, list):
            raise JournalError(f"the journal at {self.url} answered no entries")
        return [e for e in entries if isinstance(e, dict)], following

    def mark(self) -> None:
        """Remember where the journal is: ``entry_of`` looks only at what comes after."""
        with contextlib.suppress(JournalError):
            self._since = self.read(self._since)[1]

    def entry_of(self, service: str, token: str) -> dict[str, Any] | None:
        """The entry of ``service`` since the mark whose request carried ``token`` (the
        request just sent, told apart from other clients' by the token's preview)."""
        try:
            entries, _ = self.read(self._since)
        except JournalError:
            return None
        preview = shorten(token.strip())
        return next(
            (
                e
                for e in entries
                if e.get("service") == service
                and preview in json.dumps(e.get("request"), ensure_ascii=False)
            ),
            None,
        )

    def follow(self, since: int = 0) -> Iterator[dict[str, Any]]:
        """Entries as they come (server-sent events), from ``since``; ends when the stream does."""
        headers = {"Accept": "text/event-stream", "Last-Event-ID": str(since)}
        try:
            with self._http.get(
                f"{self.url}/stream", headers=headers, stream=True, timeout=(TIMEOUT_SECONDS, None)
            ) as response:
                if response.status_code != 200:
                    raise JournalError(f"the journal's stream answered {response.status_code}")
                for line in response.iter_lines(decode_unicode=True):
                    if line and line.startswith("data: "):
                        try:
                            entry = json.loads(line.removeprefix("data: "))
                        except ValueError:
                            continue
                        if isinstance(entry, dict):
                            yield entry
        except requests.RequestException as exc:
            raise JournalError(
                f"the journal's stream at {self.url} ended ({type(exc).__name__})"
            ) from None
