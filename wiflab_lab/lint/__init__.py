"""``wiflab lint``: static checks of a Workload Identity Federation setup.

``inputs`` reads a topology, ``gcloud ... describe`` / ``get-iam-policy`` JSON or ``terraform
show -json`` into one ``Inventory`` (``model``); ``rules`` are pure functions from an inventory
(and the IdP presets' provider knowledge) to ``Finding``s; ``render`` writes them as text, JSON
or SARIF 2.1.0.
"""

import sys
from pathlib import Path

from wiflab_lab.lint.inputs import InputError, load_inventory
from wiflab_lab.lint.model import Finding, Inventory, Rule
from wiflab_lab.lint.rules import RULES, lint

__all__ = [
    "RULES",
    "Finding",
    "InputError",
    "Inventory",
    "Rule",
    "lint",
    "lint_files",
    "load_inventory",
    "report",
    "warn",
]


def lint_files(
    paths: list[str], *, resource: str | None = None, validate: bool = True
) -> list[Finding]:
    """Every finding over the inputs together (a policy's principalSet is checked against the
    providers another input describes); an ``InputError`` names the file it could not read."""
    inventory = Inventory()
    for path in paths:
        inventory += load_inventory(path, resource=resource, validate=validate)
    return lint(inventory)


def report(findings: list[Finding], fmt: str) -> str:
    """``fmt``: text, json or sarif."""
    from importlib.metadata import PackageNotFoundError, version

    from wiflab_lab.lint import render as out
    from wiflab_lab.lint.rules import ALL_RULES

    if fmt == "json":
        return out.as_json(findings)
    if fmt == "sarif":
        try:
            tool_version = version("wiflab")
        except PackageNotFoundError:
            tool_version = "0"
        return out.sarif(findings, ALL_RULES, tool_version)
    return out.text(findings)


def warn(topology: Path) -> None:
    """`wiflab lint`'s errors and warnings on a topology the stack has just loaded, printed
    to stderr as warnings (the stack starts anyway: the stand-in already refused what Google
    refuses). Notes are left to `wiflab lint` itself."""
    try:
        findings = lint_files([str(topology)], validate=False)  # the stack just did
    except InputError:
        return  # the stack loaded it; anything lint cannot read it has nothing to say of
    for f in findings:
        if f.level == "note":
            continue
        line = f":{f.where.line}" if f.where and f.where.line else ""
        print(
            f"wiflab: warning: {topology}{line}: {f.id} {f.rule.name}: {f.message} "
            f"(fix: {f.fix}; `wiflab lint {topology}` says why)",
            file=sys.stderr,
        )
