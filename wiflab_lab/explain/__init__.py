"""``wiflab explain``: what Google's side would do with a token, without sending it anywhere.

For a subject token, each provider's exchange (STS's own rules: audience, issuer, key, times,
the mapping's values, the condition clause by clause), then which service accounts the
principal could act as and by which binding, then which Cloud Run services it could invoke;
for a Google ID token, who it is and which services admit it; for an access token, what the
local Google side's tokeninfo says of it (``--endpoints`` only). The analysis is
``paths.explain_token``; this module reads the options and files and prints, with the demo's
renderer. ``run`` says whether some path succeeds, or raises a UsageError (exit 2).
"""

from __future__ import annotations

import datetime
import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from mock_gcp.topology import Topology, TopologyError, load_topology
from wiflab_core import endpoints as endpoints_file
from wiflab_core.decisions import Refusal
from wiflab_lab.demo.render import (
    INDENT,
    Style,
    check_lines,
    field_lines,
    joined_lines,
    jwt_lines,
)
from wiflab_lab.demo.tokens import redact, shorten
from wiflab_lab.explain.argument import ARGUMENT, Argument, ArgumentError, read_argument
from wiflab_lab.explain.paths import Explanation, Sources, explain_token
from wiflab_lab.up import DEFAULT_TOPOLOGY, UsageError

COMMAND = "wiflab explain"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
TOKENINFO_TIMEOUT = 5.0

__all__ = ["ExplainOptions", "explain_token", "render_json", "render_text", "run"]


@dataclass
class ExplainOptions:
    """What `wiflab explain` is asked (``wiflab.commands.explain`` maps the flags here)."""

    argument: str
    endpoints: Path | None = None
    topology: Path | None = None
    # The moment to judge at (epoch seconds); None: now.
    at: float | None = None
    json: bool = False
    colour: bool = False


def run(options: ExplainOptions, out: Callable[[str], Any] | None = None) -> bool:
    """Whether some path succeeds; a UsageError (nothing judged) for bad options or files.
    ``out``: where the text goes (default: standard output, as it is when called)."""
    write = out or sys.stdout.write
    if options.endpoints is not None and options.topology is not None:
        _usage("--endpoints and --topology: give one (the endpoints file names its topology)")
    try:
        argument = read_argument(options.argument)
    except ArgumentError as exc:
        _usage(str(exc))
    sources = Sources()
    topology_path = options.topology or DEFAULT_TOPOLOGY
    if options.endpoints is not None:
        model = _load_endpoints(options.endpoints)
        topology_path = _topology_of(model, options.endpoints)
        sources = sources_of(model)
    topology = _load_topology(topology_path)
    at = options.at
    clock = time.time if at is None else (lambda: at)
    explanation = explain_token(
        argument.token,
        topology,
        sources,
        clock=clock,
        config_audience=argument.config_audience,
    )
    if options.json:
        write(render_json(explanation))
    else:
        write(render_text(explanation, argument, topology_path, Style(options.colour)))
    return explanation.allowed


def parse_at(value: str) -> float:
    """``--at``: RFC 3339 (``2026-12-01T18:00:00Z``) or epoch seconds; ValueError otherwise."""
    text = value.strip()
    try:
        return float(int(text))
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{value!r}: expected an RFC 3339 time (2026-12-01T18:00:00Z) or epoch seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


# -- what a running stack tells ---------------------------------------------------------------


def sources_of(model: endpoints_file.Endpoints) -> Sources:
    """What explain may ask of a running stack: keys and tokeninfo, over loopback only."""
    from wiflab_core.jwks_cache import IssuerKeyCache, JwksCache

    local = model.target == "local"
    lab_issuer = model.idp.issuer if model.idp is not None else None
    lab_keys = None
    if lab_issuer is not None and _loopback(lab_issuer):
        lab_keys = IssuerKeyCache(ttl=60, allow_http=True).lookup(lab_issuer)
    google = model.google_issuer
    google_keys = None
    tokeninfo = None
    if local and _loopback(google.certs_v3):
        google_keys = JwksCache(ttl=60).lookup(google.certs_v3)
    if local and _loopback(google.tokeninfo):
        tokeninfo = _tokeninfo(google.tokeninfo)
    return Sources(
        lab_idp_issuer=lab_issuer,
        lab_idp_keys=lab_keys,
        google_issuer=google.issuer,
        google_keys=google_keys,
        service_urls={name: service.url for name, service in model.services.items()},
        tokeninfo=tokeninfo,
    )


def _loopback(url: str) -> bool:
    try:
        return urlsplit(url).hostname in LOOPBACK_HOSTS
    except ValueError:
        return False


def _tokeninfo(url: str) -> Callable[[str], Mapping[str, Any] | Refusal]:
    def ask(token: str) -> Mapping[str, Any] | Refusal:
        import requests

        try:
            answer = requests.post(url, data={"access_token": token}, timeout=TOKENINFO_TIMEOUT)
        except requests.RequestException as exc:
            raise UsageError(f"tokeninfo at {url} did not answer: {exc}", COMMAND) from None
        try:
            info = answer.json()
        except ValueError:
            info = None
        if answer.status_code == 200 and isinstance(info, dict):
            return info
        body = info if isinstance(info, dict) else {}
        code, text = body.get("error"), body.get("error_description")
        return Refusal(
            answer.status_code,
            code if isinstance(code, str) else "",
            text if isinstance(text, str) else answer.reason or "",
        )

    return ask


def _load_endpoints(path: Path) -> endpoints_file.Endpoints:
    try:
        return endpoints_file.load(path)
    except endpoints_file.EndpointsError as exc:
        _usage(f"--endpoints {exc}")


def _topology_of(model: endpoints_file.Endpoints, path: Path) -> Path:
    named = Path(model.topology)
    if named.is_absolute() or named.exists():
        return named
    return model.topology_path(path.parent)


def _load_topology(path: Path) -> Topology:
    try:
        return load_topology(path)
    except TopologyError as exc:
        _usage(f"{path}: {exc}")
    except OSError as exc:
        _usage(f"{path}: {exc.strerror}")


def _usage(message: str) -> NoReturn:
    raise UsageError(message, command=COMMAND)


# -- output -----------------------------------------------------------------------------------


def render_json(explanation: Explanation) -> str:
    """A list of paths, each its decisions (``Decision.to_json()``), tokens shortened."""
    return json.dumps(explanation.to_json(), indent=2, ensure_ascii=False) + "\n"


def render_text(explanation: Explanation, argument: Argument, topology: Path, style: Style) -> str:
    """Numbered paths under their first hop, each hop's checks as the demo shows them."""
    title = style.bold(f"{COMMAND}: what Google's side would do with this token (nothing is sent)")
    facts = {"token": _short(argument.token), "from": argument.source, "topology": str(topology)}
    facts.update(explanation.facts)
    head_lines = [title, "", *field_lines(facts, "  ")]
    lines: list[str] = []
    if explanation.decoded is not None:
        lines += jwt_lines(explanation.decoded, explanation.at, style)
    number = 0
    for section in explanation.sections:
        head = section.head
        lines.append("")
        if head is not None:
            verdict = style.good("allowed") if head.decision.allowed else style.bad("refused")
            lines.append(style.bold(f"── {head.title} · ") + verdict)
            lines += check_lines(head.shown, style)
        else:
            lines.append(style.bold(f"── {section.title}"))
        for path in section.paths:
            number += 1
            mark = style.good("✓") if path.allowed else style.bad("✗")
            rest = [hop for hop in path.hops if hop is not head]
            lines.append(f"{INDENT}{number}. {mark} {path.title}")
            for hop in rest:
                lines += check_lines(hop.shown, style, INDENT + "     ")
    for note in explanation.notes:
        lines.append(f"{INDENT}{style.note('note:')} {note}")
    passed = sum(1 for path in explanation.paths if path.allowed)
    total = len(explanation.paths)
    lines += ["", style.bold("── Verdict")]
    if passed:
        lines.append(f"{INDENT}{passed} of {total} paths succeed (exit 0)")
    else:
        lines.append(f"{INDENT}no path succeeds ({total} considered; exit 1)")
    # Whatever a rule recorded (a claim, an error's text), no usable token reaches the screen.
    return joined_lines(head_lines + [redact(line) for line in lines])


def _short(token: str) -> str:
    return shorten(token)


__all__ += ["ARGUMENT", "parse_at"]
