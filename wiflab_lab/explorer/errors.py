"""What the explorer's app needs at start-up, kept light: the page must answer at once, and
the chain's machinery (``runs``: the demo, the rules) is imported by the first Try it."""

from __future__ import annotations


class RunError(ValueError):
    """A request the explorer cannot run: the field it concerns, and why (a 400)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
