"""Findings as text (for people), JSON (for scripts) and SARIF 2.1.0 (for GitHub code
scanning: each result on the line of the resource in the input file)."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wiflab_lab.lint.model import SEVERITIES, Finding, Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL = "wiflab lint"


def summary(findings: Sequence[Finding]) -> str:
    counts = Counter(f.level for f in findings)
    parts = [f"{counts[s]} {s}{'' if counts[s] == 1 else 's'}" for s in SEVERITIES]
    return ", ".join(parts)


def text(findings: Sequence[Finding]) -> str:
    lines = []
    for f in findings:
        place = f.where.file if f.where else "-"
        if f.where and f.where.line:
            place += f":{f.where.line}"
        lines.append(f"{place}: {f.level} {f.id} {f.rule.name}: {f.resource}")
        lines.append(f"  {f.message}")
        lines.append(f"  why: {f.why}")
        lines.append(f"  fix: {f.fix}")
        lines.append(f"  see: {f.source}")
    lines.append(summary(findings) if findings else "no findings")
    return "\n".join(lines) + "\n"


def as_json(findings: Sequence[Finding]) -> str:
    counts = Counter(f.level for f in findings)
    doc = {
        "findings": [f.to_json() for f in findings],
        "summary": {s: counts[s] for s in SEVERITIES},
    }
    return json.dumps(doc, indent=2) + "\n"


def _uri(file: str) -> str:
    """A repository-relative URI where the file is below the working directory (what code
    scanning resolves), else a file: URI."""
    path = Path(file)
    try:
        relative = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path.resolve().as_uri()
    return relative.as_posix() if os.sep == "/" else str(relative).replace(os.sep, "/")


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.description},
        "helpUri": rule.source,
        "help": {"text": f"{rule.description} See {rule.source}"},
        "defaultConfiguration": {"level": rule.severity},
    }


def sarif(findings: Sequence[Finding], rules: Sequence[Rule], version: str = "0") -> str:
    index = {rule.id: i for i, rule in enumerate(rules)}
    results = []
    for f in findings:
        location: dict[str, Any] = {
            "logicalLocations": [{"fullyQualifiedName": f.resource, "kind": "resource"}]
        }
        if f.where is not None:
            physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(f.where.file)}}
            if f.where.line:
                physical["region"] = {"startLine": f.where.line}
            location["physicalLocation"] = physical
        results.append(
            {
                "ruleId": f.id,
                "ruleIndex": index[f.id],
                "level": f.level,
                "message": {"text": f"{f.message}. Fix: {f.fix}"},
                "locations": [location],
            }
        )
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL,
                        "version": version,
                        "rules": [_rule(r) for r in rules],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
