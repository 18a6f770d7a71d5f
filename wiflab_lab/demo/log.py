"""``wiflab log``: the journal of a running stack as numbered chains, drawn like the demo.

Entries are grouped by chain (one user action: the exchange, then each call its tokens made),
oldest chain first; with ``follow`` each entry is printed as the stream delivers it, under its
chain's heading whenever the chain changes. ``json``: one entry a line, as the journal has it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from wiflab_core import endpoints as endpoints_file
from wiflab_lab.demo.journal import JournalError, JournalReader
from wiflab_lab.demo.render import Style, render_chain_heading, render_entry
from wiflab_lab.up import UsageError


@dataclass
class LogOptions:
    endpoints: Path
    follow: bool = False
    json: bool = False
    colour: bool = True
    chain: str | None = None


def journal_url(path: Path) -> str:
    try:
        model = endpoints_file.load(path)
    except endpoints_file.EndpointsError as exc:
        raise UsageError(f"{path}: {exc}", "wiflab log") from None
    if model.journal is None:
        raise UsageError(
            f"{path} names no journal: a stack of `wiflab up` has one (not --journal-size 0, "
            "not a gcp target)",
            "wiflab log",
        )
    return model.journal.url


def by_chain(entries: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Entries grouped by chain, in the order each chain (or lone entry) began."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        chain = entry.get("chain")
        key = f"c{chain}" if chain is not None else f"e{entry.get('id')}"
        groups.setdefault(key, []).append(entry)
    return list(groups.values())


def render_log(entries: Iterable[dict[str, Any]], now: float, style: Style) -> str:
    parts = []
    for group in by_chain(entries):
        parts.append(render_chain_heading(group[0], style))
        parts += [render_entry(entry, now, style) for entry in group]
    return "".join(parts)


def show(options: LogOptions, out: TextIO | None = None) -> bool:
    """Print the journal (and follow it); False when it could not be read."""
    out = out or sys.stdout
    reader = JournalReader(journal_url(options.endpoints))
    style = Style(options.colour)
    try:
        entries, following = reader.read(0, options.chain)
        _print(entries, options, style, out)
        if options.follow:
            last_chain: Any = entries[-1].get("chain") if entries else object()
            for entry in reader.follow(following):
                if options.chain is not None and entry.get("chain") != options.chain:
                    continue
                if options.json:
                    out.write(json.dumps(entry, ensure_ascii=False) + "\n")
                else:
                    if entry.get("chain") is None or entry.get("chain") != last_chain:
                        out.write(render_chain_heading(entry, style))
                    out.write(render_entry(entry, time.time(), style))
                    last_chain = entry.get("chain")
                out.flush()
    except JournalError as exc:
        print(f"wiflab log: {exc}", file=sys.stderr)
        return False
    return True


def _print(entries: list[dict[str, Any]], options: LogOptions, style: Style, out: TextIO) -> None:
    if options.json:
        for entry in entries:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
    elif entries:
        out.write(render_log(entries, time.time(), style))
    elif not options.follow:
        out.write("the journal is empty: nothing reached Google's side yet\n")
    out.flush()
