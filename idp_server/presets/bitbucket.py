"""Bitbucket Pipelines' OIDC tokens (gravitational/teleport ``lib/bitbucket``; sigstore/fulcio
#1257).

One issuer per workspace, ``aud`` ``ari:cloud:bitbucket::workspace/WORKSPACE_UUID``; ``sub`` is
``{REPO_UUID}:{STEP_UUID}``, or with a deployment environment
``{REPO_UUID}:{ENV_UUID}:{STEP_UUID}`` (brace-wrapped UUIDs). Google gives no template.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idp_server.presets.base import Attack, Param, Preset, audience_claim, jti, stable_uuid


def _build(
    variant: str, p: Mapping[str, str], issuer: str, aud: list[str] | None, now: int
) -> dict[str, Any]:
    step = stable_uuid("step", p["repository_uuid"], p["branch"], braces=True)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience_claim(aud),
        "iat": now,
        "exp": now + 3600,  # unverified: the lifetime is not documented in the sources
        "jti": jti(),
        "sub": f"{p['repository_uuid']}:{step}",
        "workspaceUuid": p["workspace_uuid"],
        "repositoryUuid": p["repository_uuid"],
        "pipelineUuid": stable_uuid("pipeline", p["repository_uuid"], braces=True),
        "stepUuid": step,
        "branchName": p["branch"],
    }
    if variant == "deployment":
        env = p["environment_uuid"]
        claims["sub"] = f"{p['repository_uuid']}:{env}:{step}"
        claims["deploymentEnvironmentUuid"] = env
    return claims


BITBUCKET = Preset(
    name="bitbucket",
    title="Bitbucket Pipelines",
    real_issuer="https://api.bitbucket.org/2.0/workspaces/{workspace}/pipelines-config/identity/oidc",
    default_audience="ari:cloud:bitbucket::workspace/{workspace_uuid_bare}",
    params={
        "workspace": Param("acme", "the workspace's slug"),
        "workspace_uuid": Param("{8f3e2d1c-0b9a-4f8e-b7d6-c5b4a3928170}", "its UUID, in braces"),
        "workspace_uuid_bare": Param(
            "8f3e2d1c-0b9a-4f8e-b7d6-c5b4a3928170", "the same UUID without braces (the aud)"
        ),
        "repository_uuid": Param("{1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d}", "the repository's"),
        "environment_uuid": Param("{9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b}", "the deployment's"),
        "branch": Param("main", "the branch the step runs on"),
    },
    variants={
        "step": "a pipeline step: sub {REPO_UUID}:{STEP_UUID}",
        "deployment": "a deployment step: sub {REPO_UUID}:{ENV_UUID}:{STEP_UUID}",
    },
    shared_issuer=False,
    id_claims={"branchName": "repositoryUuid"},
    string_id_claims=frozenset({"workspaceUuid", "repositoryUuid", "stepUuid"}),
    template=None,
    attacks={
        "other_repository": Attack(
            "a step of another repository of the workspace",
            {"repository_uuid": "{other_repository_uuid}"},
        ),
        "other_branch": Attack("a step on another branch", {"branch": "attacker-branch"}),
        "other_environment": Attack(
            "a deployment to another environment",
            {"environment_uuid": "{other_environment_uuid}"},
            variant="deployment",
        ),
    },
    longest={},
    longest_variant="deployment",
    build=_build,
)
