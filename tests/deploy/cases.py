"""The topologies and targets the dry-run goldens are made from."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from deploy.setup_plan import setup_plan
from deploy.steps import Check, Command, Note, Plan
from deploy.target import Target
from deploy.teardown_plan import teardown_plan
from mock_gcp.topology import load_topology

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_DIR = ROOT / "deploy" / "golden"
EXAMPLE = "wif.yaml"
SECOND = "tests/deploy/topologies/second.yaml"


@dataclass(frozen=True)
class Case:
    name: str
    topology: str  # relative to the repository root, as a user would pass it
    target: Target

    def plan(self, kind: str) -> Plan:
        make = {"setup": setup_plan, "teardown": teardown_plan}[kind]
        return make(load_topology(ROOT / self.topology), self.target, self.topology)

    def golden(self, kind: str) -> Path:
        return GOLDEN_DIR / f"{self.name}.{kind}.txt"


CASES = (
    Case("wif", EXAMPLE, Target("my-lab-project", "us-central1", image_tag="golden")),
    Case(
        "second",
        SECOND,
        Target(
            "second-lab",
            "us-east4",
            image_tag="golden",
            images={"protected_app": "us-docker.pkg.dev/elsewhere/apps/protected-app:v1"},
            pool_ids={"lab-pool": "lab-pool-2"},
            provider_ids={"ci-pool/github": "github-2"},
        ),
    ),
)
KINDS = ("setup", "teardown")


def commands(plan: Plan) -> list[Command]:
    """Every command a plan can run or shows, probes included, in plan order."""
    found: list[Command] = []
    for step in plan.steps:
        if isinstance(step, Command):
            found.append(step)
        elif isinstance(step, Check):
            found.append(step.probe)
            for _, case in step.cases:
                found += case
            found += step.otherwise
        elif isinstance(step, Note) and step.command is not None:
            found.append(step.command)
    return found


def wiflab(*args: str) -> subprocess.CompletedProcess[str]:
    """This checkout's ``wiflab ARGS`` from the repository root, its output captured."""
    return python_m("wiflab.cli", *args)


def python_m(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` from the repository root, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
