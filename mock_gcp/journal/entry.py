"""A journal entry: one request, as THE JOURNAL CONTRACT of issue 13 spells it.

``{"id", "time", "chain", "step", "service", "method", "path", "action", "request",
"tokens", "outcome", "status", "refusal", "checks", "hint", "principal"}``: the request's
fields with every token shortened and secrets left out, each JWT it carries (and each one
it was given) decoded, and the service's decision as it made it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from mock_gcp.journal import hints, tokens
from mock_gcp.journal.record import SECRET_FIELDS, TOKEN_FIELDS, Record
from wiflab_core.decisions import Decision
from wiflab_core.redact import redact

# A field value longer than this is shown by its length only (one entry stays small).
MAX_FIELD_CHARS = 2048


def rfc3339(epoch: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build(
    record: Record, *, entry_id: int, now: float, chain: str | None, step: int | None
) -> dict[str, Any]:
    decision = record.decision
    refusal = decision.refusal
    return {
        "id": entry_id,
        "time": rfc3339(now),
        "chain": chain,
        "step": step,
        "service": record.service,
        "method": record.method,
        "path": record.path,
        "action": decision.action,
        "request": shown_request(record),
        "tokens": decoded_tokens(record),
        "outcome": decision.outcome,
        "status": record.status,
        "refusal": None if refusal is None else refusal.to_json(),
        "checks": [check.to_json() for check in decision.checks],
        "hint": hints.hint(decision),
        "principal": record.principal(),
        # The project the request was about (mock_gcp.projects): wiflab's addition to the
        # contract, for GET /wiflab/v1/journal?project=NUMBER.
        "project": project_of(decision),
    }


def project_of(decision: Decision) -> str | None:
    """The number the service's ``project`` check looked up, when it made one."""
    check = decision.check("project")
    actual = check.actual if check is not None else None
    return actual if isinstance(actual, str) else None


def shown_request(record: Record) -> dict[str, Any]:
    """The request's fields and token headers: tokens shortened, secrets never."""
    shown: dict[str, Any] = {}
    for name, value in record.fields.items():
        if not isinstance(name, str) or name in SECRET_FIELDS:
            continue
        shown[name[:MAX_FIELD_CHARS]] = _field(name, value)
    headers = {}
    for name, value in record.headers.items():
        scheme, _, credential = value.partition(" ")
        if scheme.lower() == "bearer":
            headers[name] = f"Bearer {tokens.preview(credential)}"
        else:  # Basic and the rest: a password or secret, never shown
            headers[name] = f"{scheme[:20]} (not shown)"
    if headers:
        shown["headers"] = headers
    return shown


def _field(name: str, value: Any) -> Any:
    if name in TOKEN_FIELDS and isinstance(value, str):
        return tokens.preview(value)
    if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
        return f"({len(value)} characters, not shown)"
    if isinstance(value, Mapping | list):
        text = repr(value)
        if len(text) > MAX_FIELD_CHARS:
            return f"({len(text)} characters, not shown)"
        return redact(_secretless(value))
    return redact(value)


def _secretless(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _secretless(v) for k, v in value.items() if k not in SECRET_FIELDS}
    if isinstance(value, list):
        return [_secretless(v) for v in value]
    return value


def decoded_tokens(record: Record) -> dict[str, Any]:
    """Each JWT in the request (by field or header name) and in the response (``issued.NAME``)."""
    found: dict[str, Any] = {}
    for name, token in record.presented():
        jwt = tokens.decoded(token)
        if jwt is not None:
            found[name] = jwt
    for name, token in record.issued:
        jwt = tokens.decoded(token)
        if jwt is not None:
            found[f"issued.{name}"] = jwt
    return found
