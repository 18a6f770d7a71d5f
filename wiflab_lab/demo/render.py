"""The demo's output, and ``wiflab log``'s: numbered steps for a terminal, or JSON.

The terminal text comes in pieces (preamble, each step as it completes, ending) so a slow
step on real Google Cloud shows progress. One renderer: a demo step and a journal entry are
drawn by the same pieces (request, answer, decoded JWTs, the checks, what to check), and
their checks come from the same decisions (``explain.shown_checks``). Only rendering here;
every value arrives already display-safe (tokens shortened).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from wiflab_lab.demo.explain import ShownCheck, short_member, shown_checks
from wiflab_lab.demo.plan import DemoPlan
from wiflab_lab.demo.steps import STEP_COUNT, DemoResult, HttpCall, Step
from wiflab_lab.demo.tokens import DecodedJwt, redact

INDENT = "   "
# Registered claims first, time claims last (with readable times); the rest in token order.
CLAIMS_FIRST = ("iss", "sub", "aud", "azp", "email")


@dataclass(frozen=True)
class Style:
    """ANSI colour, or none (not a TTY, or NO_COLOR set)."""

    colour: bool

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def good(self, text: str) -> str:
        return self._wrap("32", text)

    def bad(self, text: str) -> str:
        return self._wrap("31", text)

    def note(self, text: str) -> str:
        return self._wrap("33", text)

    def url(self, text: str) -> str:
        return self._wrap("36", text)


def render_json(result: DemoResult, now: float) -> str:
    return json.dumps(result.to_json(now), indent=2, ensure_ascii=False) + "\n"


def render_preamble(result: DemoResult, style: Style) -> str:
    plan = result.plan
    fields = {
        "target": f"{result.target}, {result.stack}",
        "topology": result.topology,
        "profile": f"{plan.profile} ({_caller(plan)})",
        "provider": plan.provider_key,
        "account": plan.account.email,
        "service": f"{plan.service.name} at {style.url(plan.service_url)}",
    }
    title = style.bold("wiflab demo: Workload Identity Federation, one step at a time")
    return joined_lines([title, "", *field_lines(fields, "  ")])


def render_ending(result: DemoResult, style: Style) -> str:
    failed = result.failed
    if failed is not None:
        return joined_lines(_stopped(failed, style))
    return joined_lines(_what_dump_saw(result, style) + _summary(result, style))


def render_step(step: Step, now: float, style: Style) -> str:
    lines = ["", style.bold(f"── Step {step.number}/{STEP_COUNT} · {step.title}")]
    lines.append(f"{INDENT}{style.dim('why: ' + step.why)}")
    if step.call is not None:
        lines += _request(step, step.call, style)
        lines += _response(step, style)
    for token in step.tokens:
        lines += jwt_lines(token, now, style)
    if step.checks:
        lines.append("")
        lines += check_lines(step.checks, style)
    for note in step.notes:
        lines.append(f"{INDENT}{style.note('note:')} {note}")
    if step.error is not None:
        lines.append("")
        lines.append(f"{INDENT}{style.bold('what to check:')}")
        lines += [_hint(hint) for hint in step.hints]
    return joined_lines(lines)


def check_lines(checks: Iterable[ShownCheck], style: Style, indent: str = INDENT) -> list[str]:
    """``✓ rule: text`` for each check, its details indented below (the demo and explain)."""
    lines = []
    for check in checks:
        mark = style.good("✓") if check.passed else style.bad("✗")
        lines.append(f"{indent}{mark} {check.rule}: {check.text}")
        lines += [f"{indent}    {detail}" for detail in check.details]
    return lines


# -- journal entries (wiflab log) ---------------------------------------------------------

_TITLES = {
    ("sts", "exchange"): "STS token exchange",
    ("run", "invoke"): "Cloud Run call",
    ("tokeninfo", "tokeninfo"): "tokeninfo",
}
_SERVICES = {
    "sts": "STS",
    "iamcredentials": "IAM Credentials",
    "issuer": "Google's issuer",
    "metadata": "the metadata server",
    "run": "Cloud Run",
    "tokeninfo": "tokeninfo",
}


def entry_title(entry: dict[str, Any]) -> str:
    service, action = str(entry.get("service")), str(entry.get("action"))
    return _TITLES.get((service, action)) or f"{_SERVICES.get(service, service)} {action}"


def render_chain_heading(entry: dict[str, Any], style: Style) -> str:
    """The line that opens a chain (or an entry that belongs to none)."""
    chain = entry.get("chain")
    if chain is None:
        return joined_lines(["", style.bold(f"══ Entry {entry.get('id')} (no chain)")])
    who = entry.get("principal")
    suffix = f" · {short_member(str(who))}" if who else ""
    return joined_lines(["", style.bold(f"══ Chain {chain}{suffix}")])


def render_entry(entry: dict[str, Any], now: float, style: Style) -> str:
    """One journal entry as a demo step: its request, the answer, each JWT, the decision."""
    step = entry.get("step")
    number = f"Step {step}" if step is not None else f"Entry {entry.get('id')}"
    lines = ["", style.bold(f"── {number} · {entry_title(entry)}")]
    when = str(entry.get("time", "")).replace("T", " ").rstrip("Z")
    principal = entry.get("principal")
    lines.append(f"{INDENT}{style.dim(when + ' UTC' + (f' · {principal}' if principal else ''))}")
    lines.append("")
    lines.append(f"{INDENT}→ {entry.get('method')} {style.url(str(entry.get('path')))}")
    request = dict(entry.get("request") or {})
    headers = request.pop("headers", {}) or {}
    lines += [f"{INDENT}  {name}: {value}" for name, value in headers.items()]
    lines += field_lines({key: _value(value) for key, value in request.items()})
    status = f"{entry.get('status')} {entry.get('outcome')}"
    refusal = entry.get("refusal")
    if refusal:
        status += f" · {refusal.get('code')}"
    allowed = entry.get("outcome") == "allowed"
    lines.append(f"{INDENT}← {style.good(status) if allowed else style.bad(status)}")
    if refusal:
        lines += field_lines({"text": str(refusal.get("text"))})
    for name, token in (entry.get("tokens") or {}).items():
        decoded = DecodedJwt(name, token.get("header") or {}, token.get("claims") or {})
        lines += jwt_lines(decoded, now, style)
    checks = shown_checks(entry)
    lines += ["", *check_lines(checks, style)] if checks else []
    hint = entry.get("hint")
    if hint:
        hints = [f"nearest miss: {hint.get('nearest_miss')}", *hint.get("check", [])]
        hints.append(f"Google's guide: {hint.get('doc')}")
        lines += ["", f"{INDENT}{style.bold('what to check:')}", *(_hint(h) for h in hints)]
    return joined_lines(lines)


def _request(step: Step, call: HttpCall, style: Style) -> list[str]:
    lines = ["", f"{INDENT}→ {call.method} {style.url(call.url)}"]
    lines += [f"{INDENT}  {name}: {value}" for name, value in call.headers.items()]
    if isinstance(call.body, dict):
        # The IdP's body is claims, where "true" (a string) and true (a boolean) differ.
        typed = step.key == "mint"
        lines += field_lines({key: _value(value, typed) for key, value in call.body.items()})
    return lines


def _response(step: Step, style: Style) -> list[str]:
    call = step.call
    if call is None or call.status is None:
        error = step.error
        return [f"{INDENT}{style.bad('✗ no answer:')} {error.message if error else ''}"]
    status = f"{call.status} {call.reason}".strip()
    lines = [f"{INDENT}← {style.good(status) if step.ok else style.bad(status)}"]
    lines += field_lines({key: _value(value) for key, value in step.shown.items()})
    return lines


def jwt_lines(token: DecodedJwt, now: float, style: Style) -> list[str]:
    """A decoded JWT: its header, then its claims (registered first, times readable)."""
    lines = ["", f"{INDENT}{style.bold('Decoded JWT')} · {style.dim(token.name)}"]
    times = token.times(now)
    first = [c for c in CLAIMS_FIRST if c in token.claims]
    order = first + [c for c in token.claims if c not in first and c not in times]
    order += [c for c in token.claims if c in times]
    claims = redact(dict(token.claims))
    shown = {"header": json.dumps(dict(token.header))}
    for claim in order:
        text = _value(claims[claim], typed=True)
        shown[claim] = f"{text}  {style.dim(times[claim])}" if claim in times else text
    return lines + field_lines(shown)


def _stopped(step: Step, style: Style) -> list[str]:
    error = step.error
    why = f"refused ({error.status} {error.code})" if error and error.status else "no answer"
    return ["", style.bad(f"✗ Stopped at step {step.number}/{STEP_COUNT}: {why}.")]


def _what_dump_saw(result: DemoResult, style: Style) -> list[str]:
    dump = result.dump or {}
    verified = "verified" if dump.get("verified") else "NOT verified"
    shown = {
        "caller": str(dump.get("email") or dump.get("sub")),
        "identity": f"{verified}, by {dump.get('by')}",
    }
    if dump.get("header"):
        shown["header"] = f"{dump['header']}: {dump.get('forwarded')}"
    if dump.get("service"):
        shown["service"] = f"{dump['service']} (K_SERVICE)"
    return ["", style.bold("── What /dump saw"), *field_lines(shown, INDENT)]


def _summary(result: DemoResult, style: Style) -> list[str]:
    plan = result.plan
    account = plan.account.email
    sts, id_token, dump = (_step_by_key(result, key) for key in ("sts", "id_token", "dump"))
    lines = ["", style.bold("── What just happened")]
    lines += [
        f"{INDENT}1. {plan.profile}'s {_credential(plan)} passed {plan.provider_key};",
        f"{INDENT}   Google now knows the caller as {short_member(_identity(sts))}.",
        f"{INDENT}2. With that federated token alone, IAM Credentials minted a Google-signed ID",
        f"{INDENT}   token and an access token for {account}",
        f"{INDENT}   ({_role(id_token)}). No service-account key anywhere.",
        f"{INDENT}3. Cloud Run let the ID token in: its aud is the service URL and the",
        f"{INDENT}   account holds {_role(dump)} on {plan.service.name}.",
        "",
        style.bold("── Next"),
    ]
    commands = {f"wiflab demo --profile {p}": outcome for p, outcome in result.try_next.items()}
    commands["wiflab demo --json"] = "every step as one JSON document"
    commands["wiflab up"] = "keep the stack running for your own clients"
    lines += field_lines({command: style.dim(text) for command, text in commands.items()}, INDENT)
    lines.append(f"{INDENT}README.md, and the comments in {result.topology}, explain each rule.")
    return lines


def _caller(plan: DemoPlan) -> str:
    if plan.aws is None:
        return "the fake user whose token is minted"
    source = "the EC2 instance's role, keys from the IMDSv2" if plan.aws.imds else "its own keys"
    return f"AWS identity {plan.aws.arn}, {source}"


def _credential(plan: DemoPlan) -> str:
    if plan.aws is None:
        return "token, signed by the fake IdP,"
    return "signed GetCallerIdentity, verified by AWS,"


def _step_by_key(result: DemoResult, key: str) -> Step | None:
    return next((step for step in result.steps if step.key == key), None)


def _identity(step: Step | None) -> str:
    for check in step.checks if step else []:
        if check.rule == "identity":
            return str(check.data.get("principal"))
    return "(unknown)"


def _role(step: Step | None) -> str:
    for check in step.checks if step else []:
        if check.rule == "IAM binding" and check.data:
            return str(check.data["role"])
    return "its binding"


def _hint(hint: str) -> str:
    # Commands are set apart, ready to copy.
    return f"{INDENT}      $ {hint}" if hint.startswith("gcloud ") else f"{INDENT}  • {hint}"


def joined_lines(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def field_lines(values: dict[str, str], indent: str = INDENT + "  ") -> list[str]:
    """``key  value`` lines, the values aligned within the block."""
    width = max((len(key) for key in values), default=0) + 2
    return [f"{indent}{key:<{width}}{value}" for key, value in values.items()]


def _value(value: Any, typed: bool = False) -> str:
    """A value as JSON; plain strings bare unless ``typed`` (claims, where types matter)."""
    if isinstance(value, str) and not typed:
        return value
    return json.dumps(value, ensure_ascii=False)
