"""``wiflab deploy setup|teardown`` (being written)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    deploy = subparsers.add_parser("deploy", help="set up Cloud Run and WIF on Google Cloud")
    deploy.set_defaults(func=lambda args: 1)
