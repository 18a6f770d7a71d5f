"""``wiflab demo``: the whole chain, explained step by step (being written)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser("demo", help="run the whole WIF chain, explained step by step")
    demo.set_defaults(func=lambda args: 1)
