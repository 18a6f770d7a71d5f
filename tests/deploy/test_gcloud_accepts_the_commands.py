"""Every kind of gcloud command in the dry runs is one the real gcloud accepts: run offline
with no account, gcloud parses all flags first and only then stops for want of credentials.
A misspelt flag or a bad value fails before that, with its own message."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from deploy.steps import Command, WriteFile
from tests.deploy.cases import CASES, KINDS, ROOT, commands
from tests.deploy.real_gcloud import NO_ACCOUNT, gcloud_or_skip, run_gcloud

VERBS = {
    "enable", "describe", "create", "create-oidc", "create-aws", "update", "update-oidc",
    "update-aws", "undelete", "delete",
    "deploy", "submit", "disable", "access", "get-iam-policy", "add-iam-policy-binding",
    "remove-iam-policy-binding", "allow",
}  # fmt: skip


def _kind(command: Command) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The command (words up to its verb) and the flags it passes: one of each is enough."""
    words = []
    for arg in command.argv[1:]:
        words.append(arg)
        if arg in VERBS:
            break
    flags = sorted(a.split("=")[0] for a in command.argv if a.startswith("--"))
    return tuple(words), tuple(flags)


def test_gcloud_parses_every_command(tmp_path: Path) -> None:
    gcloud = gcloud_or_skip()
    distinct: dict[tuple, Command] = {}
    for case in CASES:
        for kind in KINDS:
            plan = case.plan(kind)
            for step in plan.steps:
                if isinstance(step, WriteFile):  # --jwk-json-path reads it while parsing
                    (tmp_path / step.path).parent.mkdir(parents=True, exist_ok=True)
                    (tmp_path / step.path).write_text(step.content)
            for command in commands(plan):
                if command.argv[0] == "gcloud":
                    distinct.setdefault(_kind(command), command)
    # gcloud builds submit validates the build config it is given: give it the real one.
    (tmp_path / "deploy").mkdir()
    build = "deploy/build-image.yaml"
    (tmp_path / build).write_text((ROOT / build).read_text())

    def refusal(command: Command) -> tuple[Command, str]:
        argv = [re.sub(r"\$\{[A-Z_]+\}", "https://x.run.app", a) for a in command.argv]
        result = run_gcloud([gcloud, *argv[1:]], tmp_path / "gcloud-config", tmp_path)
        return command, result.stderr

    with ThreadPoolExecutor(max_workers=4) as pool:
        refused = [
            f"{' '.join(c.argv)[:160]}\n  -> {err.strip()[:300]}"
            for c, err in pool.map(refusal, distinct.values())
            if NO_ACCOUNT not in err
        ]
    assert len(distinct) > 30
    assert not refused, "gcloud refused these before asking for an account:\n" + "\n".join(refused)
