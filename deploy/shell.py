"""A plan as a bash script: the dry run's output, runnable by copy and paste.

Captured values become shell variables (``PROJECT_NUMBER="$(gcloud ...)"``), checks become
``if``/``case`` on a probe's output, and data made locally (a key, a secret) is piped in from
the command that makes it. Each command stays on one line, so the golden files diff by line.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from pathlib import PurePosixPath

from deploy.steps import Check, Command, Note, Plan, Section, Step, WriteFile

_VARIABLE = re.compile(r"(\$\{[A-Z_][A-Z0-9_]*\})")
_NOTE_WIDTH = 96
_HEREDOC_END = "WIFLAB_EOF"


def render(plan: Plan) -> str:
    lines = [
        "#!/usr/bin/env bash",
        f"# {plan.title}",
        "# Dry run: nothing was changed. Run it from the repository root. Every step looks",
        "# before it acts, so a second run of the whole script changes nothing.",
        "set -euo pipefail",
    ]
    for step in plan.steps:
        lines.extend(render_step(step))
    return "\n".join(lines) + "\n"


def render_step(step: Step) -> list[str]:
    if isinstance(step, Section):
        return ["", f"# == {step.title} =="]
    if isinstance(step, Note):
        lines = [f"# {line}" for line in textwrap.wrap(step.text, _NOTE_WIDTH)]
        return lines + ([f"#   {command_line(step.command)}"] if step.command else [])
    if isinstance(step, Command):
        return [command_line(step)]
    if isinstance(step, Check):
        return _check(step)
    if isinstance(step, WriteFile):
        parent = str(PurePosixPath(step.path).parent)
        return [
            f"mkdir -p {quote(parent)}",
            f"cat > {quote(step.path)} <<'{_HEREDOC_END}'",
            *step.content.rstrip("\n").split("\n"),
            _HEREDOC_END,
        ]
    raise TypeError(f"not a step: {step!r}")


def quote(arg: str) -> str:
    """One argument for bash; ``${NAME}`` stays expandable, everything else literal."""
    if not _VARIABLE.search(arg):
        return shlex.quote(arg)
    # split() alternates literal text and captured ${NAME}s: escape only the literal text.
    pieces = _VARIABLE.split(arg)
    escaped = (p if i % 2 else re.sub(r'([\\"$`])', r"\\\1", p) for i, p in enumerate(pieces))
    return '"' + "".join(escaped) + '"'


def command_line(command: Command) -> str:
    line = " ".join(quote(arg) for arg in command.argv)
    if command.env:
        line = (
            " ".join(f"{name}={quote(value)}" for name, value in command.env.items()) + f" {line}"
        )
    if command.stdin is not None:
        line = f"{command.stdin.shell} | {line}"
    if command.capture:
        line = f'{command.capture}="$({line})"'
    return line


def _probe(check: Check) -> str:
    return f'"$({command_line(check.probe)} 2>/dev/null)"'


def _check(check: Check) -> list[str]:
    cases = dict(check.cases)
    if list(cases) == [""] and not cases[""]:  # present: act on it (delete)
        return [f"if [ -n {_probe(check)} ]; then", *_indented(check.otherwise), "fi"]
    if list(cases) == [""]:  # absent: create (else update)
        lines = [f"if [ -z {_probe(check)} ]; then", *_indented(cases[""])]
        if check.otherwise:
            lines += ["else", *_indented(check.otherwise)]
        return [*lines, "fi"]
    if len(cases) == 1 and not next(iter(cases.values())) and "*" not in next(iter(cases)):
        (value,) = cases  # up to date, unless the probe says otherwise
        return [
            f"if [ {_probe(check)} != {quote(value)} ]; then",
            *_indented(check.otherwise),
            "fi",
        ]
    lines = [f"case {_probe(check)} in"]
    quiet: list[str] = []  # patterns that need nothing done share one line
    for pattern, commands in [*check.cases, ("*", check.otherwise)]:
        if not commands:
            quiet.append(_pattern(pattern))
            continue
        if quiet:
            lines.append(f"  {'|'.join(quiet)}) ;;")
            quiet = []
        lines += [f"  {_pattern(pattern)})", *_indented(commands, 4), "    ;;"]
    if quiet:
        lines.append(f"  {'|'.join(quiet)}) ;;")
    return [*lines, "esac"]


def _pattern(pattern: str) -> str:
    """A case pattern: ``*`` stays a glob, the rest is quoted."""
    if pattern == "":
        return "''"
    return "*".join(shlex.quote(part) if part else "" for part in pattern.split("*"))


def _indented(commands: tuple[Command, ...], depth: int = 2) -> list[str]:
    return [" " * depth + command_line(c) for c in commands] or [" " * depth + ":"]
