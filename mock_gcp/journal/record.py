"""What one request to Google's side was, and what the service decided: a ``Record``.

The HTTP layers fill one per request (also for requests refused before any rule ran: a
broken body, an unknown path); ``entry.build`` turns it into the journal's JSON. Tokens
travel here whole only as far as ``entry.build`` and ``chains``, which keep previews and
hashes: no record is ever stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from wiflab_core.decisions import Check, Decision, Refusal

Service = Literal["sts", "iamcredentials", "issuer", "tokeninfo", "metadata", "run"]
SERVICES: tuple[Service, ...] = ("sts", "iamcredentials", "issuer", "tokeninfo", "metadata", "run")

# Request fields and headers that carry a token: shown shortened, their JWTs decoded.
TOKEN_FIELDS = frozenset(
    {"subject_token", "subjectToken", "access_token", "id_token", "token", "assertion"}
)
TOKEN_HEADERS = ("Authorization", "X-Serverless-Authorization")
# Fields never shown, not even shortened (client secrets, passwords).
SECRET_FIELDS = frozenset({"client_secret", "clientSecret", "password", "secret"})
# Response fields that carry a token the request was given (chains follow them).
ISSUED_FIELDS = ("access_token", "accessToken", "token", "signedJwt", "id_token")


@dataclass(frozen=True)
class Record:
    """One request and its decision. ``fields``: the query and body fields as sent;
    ``headers``: the token-bearing headers only; ``issued``: tokens in the response."""

    service: Service
    method: str
    path: str
    status: int
    decision: Decision
    fields: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    issued: tuple[tuple[str, str], ...] = ()
    # When the request was answered (a record made later keeps its time); None: now.
    time: float | None = None

    @property
    def refusal(self) -> Refusal | None:
        return self.decision.refusal

    def presented(self) -> list[tuple[str, str]]:
        """``(name, token)`` for each token the request carries, fields then headers."""
        found: list[tuple[str, str]] = []
        for name, value in self.fields.items():
            if name in TOKEN_FIELDS and isinstance(value, str) and value.strip():
                found.append((name, value.strip()))
        for name, value in self.headers.items():
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                found.append((name, token.strip()))
        return found

    def principal(self) -> str | None:
        """The caller the service knew, from its last ``caller`` check."""
        check = self.decision.check("caller")
        if check is not None and isinstance(check.actual, Mapping):
            principal = check.actual.get("principal")
            return principal if isinstance(principal, str) else None
        return None


def issued_tokens(body: Any) -> tuple[tuple[str, str], ...]:
    """The tokens a JSON response body hands out (STS, IAM Credentials, the metadata server)."""
    if not isinstance(body, Mapping):
        return ()
    return tuple(
        (name, value)
        for name in ISSUED_FIELDS
        if isinstance(value := body.get(name), str) and value
    )


def unruled(service: Service, action: str, refusal: Refusal | None, detail: str = "") -> Decision:
    """The decision of a request no rule decided: served as is, or refused before any rule
    ran (a broken body, an unknown path), with the answer it got."""
    if refusal is None:
        return Decision(service, action, (Check("request", True, None, None, detail),))
    text = detail or refusal.text
    return Decision(service, action, (Check("request", False, None, None, text),), refusal)
