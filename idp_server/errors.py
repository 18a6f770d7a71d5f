"""Errors as values: what the IdP refuses, with the exact HTTP status, code and text."""

from __future__ import annotations

from collections.abc import Mapping


class IdpError(Exception):
    """A refused request; the HTTP layer renders it as ``{"error", "error_description"}``."""

    def __init__(
        self, status: int, error: str, description: str, headers: Mapping[str, str] | None = None
    ):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def invalid_request(description: str) -> IdpError:
    return IdpError(400, "invalid_request", description)


class ConfigError(ValueError):
    """The IdP cannot start as configured: the message names the setting and the fix."""
