"""The two shapes Google's APIs answer errors in. Errors are values: the HTTP layer renders them.

- OAuth-style (STS, tokeninfo): ``{"error": CODE, "error_description": TEXT}``.
- Google API style (IAM Credentials and the other googleapis.com JSON APIs):
  ``{"error": {"code": N, "message": TEXT, "status": STATUS, "details": [...]}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wiflab_core.decisions import Refusal


@dataclass
class OAuthError(Exception):
    status: int
    error: str
    description: str

    def __str__(self) -> str:
        return f"{self.status} {self.error}: {self.description}"

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}

    def refusal(self) -> Refusal:
        return Refusal(self.status, self.error, self.description)


@dataclass
class ApiError(Exception):
    code: int
    status: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.code} {self.status}: {self.message}"

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def refusal(self) -> Refusal:
        return Refusal(self.code, self.status, self.message)


def invalid_argument(
    message: str = "Request contains an invalid argument.", **violations: str
) -> ApiError:
    """400 INVALID_ARGUMENT; field violations become a google.rpc.BadRequest detail."""
    details = []
    if violations:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [
                    {"field": name, "description": text} for name, text in violations.items()
                ],
            }
        )
    return ApiError(400, "INVALID_ARGUMENT", message, details)
