"""Decisions as values: the ordered checks a rule made and, on refusal, Google's answer.

A rule records each comparison it makes as a ``Check`` (what was expected, what it found,
passed or not) and ends in a ``Decision``: allowed, or refused with the ``Refusal`` Google
sends (HTTP status, error code, text). The HTTP layers render decisions; the demo, and later
the journal and ``wiflab explain``, show the same values. Decisions are plain data:
``to_json`` gives JSON with every token shortened; no rule ever puts a secret in one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wiflab_core.redact import redact


@dataclass(frozen=True)
class Check:
    """One comparison: ``name`` (e.g. ``token.audience``), its outcome and its operands.

    ``expected`` and ``actual`` are JSON-like values (str, number, bool, None, lists, dicts);
    ``detail`` is a short human sentence when the operands alone do not say it.
    """

    name: str
    passed: bool
    expected: Any = None
    actual: Any = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "passed": self.passed}
        if self.expected is not None:
            body["expected"] = redact(self.expected)
        if self.actual is not None:
            body["actual"] = redact(self.actual)
        if self.detail:
            body["detail"] = redact(self.detail)
        return body


@dataclass(frozen=True)
class Refusal:
    """Google's answer to a refused request: HTTP status, error code, text.

    ``code`` is the OAuth ``error`` (STS, tokeninfo), the API ``status`` (IAM Credentials:
    ``PERMISSION_DENIED``) or the page title (Cloud Run, metadata: ``Forbidden``).
    """

    status: int
    code: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "text": redact(self.text)}


@dataclass(frozen=True)
class Decision:
    """What ``service`` (``sts``, ``iamcredentials``, ``run``, ``issuer``, ``metadata``) made
    of one ``action`` (``exchange``, ``generateIdToken``, ``invoke``, ...)."""

    service: str
    action: str
    checks: tuple[Check, ...] = ()
    refusal: Refusal | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    @property
    def outcome(self) -> str:
        return "allowed" if self.refusal is None else "refused"

    @property
    def failed(self) -> Check | None:
        """The check that refused, when one did."""
        return next((c for c in self.checks if not c.passed), None)

    def check(self, name: str) -> Check | None:
        """The last check called ``name``."""
        return next((c for c in reversed(self.checks) if c.name == name), None)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "service": self.service,
            "action": self.action,
            "outcome": self.outcome,
            "checks": [c.to_json() for c in self.checks],
        }
        if self.refusal is not None:
            body["refusal"] = self.refusal.to_json()
        return body


@dataclass
class Trace:
    """The checks of one rule as it makes them; ``decision`` seals them."""

    checks: list[Check] = field(default_factory=list)

    def check(
        self, name: str, passed: bool, expected: Any = None, actual: Any = None, detail: str = ""
    ) -> bool:
        self.checks.append(Check(name, passed, expected, actual, detail))
        return passed

    def extend(self, checks: tuple[Check, ...] | list[Check]) -> None:
        self.checks.extend(checks)

    def decision(self, service: str, action: str, refusal: Refusal | None = None) -> Decision:
        return Decision(service, action, tuple(self.checks), refusal)
