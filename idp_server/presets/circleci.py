"""CircleCI's OIDC tokens (circleci-docs ``jekyll/_cci2/openid-connect-tokens.adoc``).

One issuer per organization (``https://oidc.circleci.com/org/ORG_ID``), the default ``aud`` is
the organization id, ``sub`` ``org/ORG_ID/project/PROJECT_ID/user/USER_ID``; the context ids
are a list and ``ssh-rerun`` a boolean. Tokens live an hour. Google gives no template.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idp_server.presets.base import Attack, Param, Preset, audience_claim, jti

PREFIX = "oidc.circleci.com/"


def _build(
    variant: str, p: Mapping[str, str], issuer: str, aud: list[str] | None, now: int
) -> dict[str, Any]:
    origin = p["vcs_origin"]
    if variant == "fork_pull_request":
        origin = p["fork_origin"]
    return {
        "iss": issuer,
        "sub": f"org/{p['org_id']}/project/{p['project_id']}/user/{p['user_id']}",
        "aud": audience_claim(aud),
        "iat": now,
        "exp": now + 3600,
        "jti": jti(),
        f"{PREFIX}project-id": p["project_id"],
        f"{PREFIX}context-ids": [p["context_id"]],
        f"{PREFIX}vcs-origin": origin,
        f"{PREFIX}vcs-ref": p["vcs_ref"],
        f"{PREFIX}ssh-rerun": variant == "ssh_rerun",
    }


CIRCLECI = Preset(
    name="circleci",
    title="CircleCI",
    real_issuer="https://oidc.circleci.com/org/{org_id}",
    default_audience="{org_id}",
    params={
        "org_id": Param("c5a2b1d0-8e7f-4a6b-9c3d-2e1f0a9b8c7d", "the organization's id"),
        "project_id": Param("e4d3c2b1-a0f9-4e8d-b7c6-5a4b3c2d1e0f", "the project's id"),
        "user_id": Param("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "who started the job"),
        "context_id": Param("d8c7b6a5-f4e3-4d2c-b1a0-9f8e7d6c5b4a", "a context the job uses"),
        "vcs_origin": Param("github.com/acme/app", "the repository the job builds"),
        "fork_origin": Param("github.com/mallory/app", "a fork's origin (fork_pull_request)"),
        "vcs_ref": Param("refs/heads/main", "the ref the job builds"),
    },
    variants={
        "push": "a job on a branch of the project's repository",
        "fork_pull_request": "a job for a fork's pull request: vcs-origin is the fork",
        "ssh_rerun": "a job re-run with SSH (ssh-rerun true): someone can type in it",
    },
    shared_issuer=False,
    id_claims={},
    string_id_claims=frozenset({f"{PREFIX}project-id"}),
    template=None,
    attacks={
        "other_project": Attack(
            "a job of another project of the organization",
            {"project_id": "{other_project_id}", "vcs_origin": "github.com/acme/scratch"},
        ),
        "fork_pull_request": Attack(
            "a fork's pull request built by the project", {}, variant="fork_pull_request"
        ),
        "ssh_rerun": Attack("a job re-run with SSH access", {}, variant="ssh_rerun"),
        "other_branch": Attack(
            "a job on another branch", {"vcs_ref": "refs/heads/attacker-branch"}
        ),
    },
    longest={},
    longest_variant="push",
    build=_build,
)
