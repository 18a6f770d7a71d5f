"""Buildkite's agent OIDC tokens (https://buildkite.com/docs/agent/v3/cli-oidc).

One issuer for every organization (``https://agent.buildkite.com``); ``sub``
``organization:ORG:pipeline:PIPE:ref:REF:commit:SHA:step:KEY``; ``build_number`` is a number,
``step_key`` may be null; tokens live 5 minutes. Google gives no template.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idp_server.presets.base import (
    Attack,
    Param,
    Preset,
    as_int,
    audience_claim,
    jti,
    stable_hex,
    stable_uuid,
)


def _build(
    variant: str, p: Mapping[str, str], issuer: str, aud: list[str] | None, now: int
) -> dict[str, Any]:
    branch, tag = p["branch"], None
    ref = f"refs/heads/{branch}"
    if variant == "tag":
        tag = p["tag"]
        ref = f"refs/tags/{tag}"
    commit = stable_hex("commit", p["pipeline"], ref)
    step_key = p["step_key"] or None
    org, pipe = p["organization"], p["pipeline"]
    return {
        "iss": issuer,
        "sub": f"organization:{org}:pipeline:{pipe}:ref:{ref}:commit:{commit}:step:{p['step_key']}",
        "aud": audience_claim(aud),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": jti(),
        "organization_slug": org,
        "pipeline_slug": pipe,
        "build_number": as_int(p, "build_number"),
        "build_branch": branch,
        "build_tag": tag,
        "build_commit": commit,
        "step_key": step_key,
        "job_id": stable_uuid("job", org, pipe, p["build_number"]),
        "agent_id": stable_uuid("agent", org),
        "organization_id": p["organization_id"],
        "pipeline_id": p["pipeline_id"],
    }


BUILDKITE = Preset(
    name="buildkite",
    title="Buildkite",
    real_issuer="https://agent.buildkite.com",
    default_audience="https://buildkite.com/{organization}",
    params={
        "organization": Param("acme", "the organization's slug"),
        "organization_id": Param("0186f1d2-3c4b-4a5e-9f8d-7c6b5a4d3e2f", "its UUID"),
        "pipeline": Param("app", "the pipeline's slug"),
        "pipeline_id": Param("0187a2b3-c4d5-4e6f-8a9b-0c1d2e3f4a5b", "its UUID"),
        "branch": Param("main", "the build's branch"),
        "tag": Param("v1.0.0", "the build's tag (tag variant)"),
        "build_number": Param("1514", "the build's number (a number in the token)"),
        "step_key": Param("deploy", "the step's key (empty: null)"),
    },
    variants={
        "branch": "a build of a branch",
        "tag": "a build of a tag (build_tag set)",
    },
    shared_issuer=True,
    id_claims={"organization_slug": "organization_id", "pipeline_slug": "pipeline_id"},
    string_id_claims=frozenset({"organization_id", "pipeline_id", "job_id", "agent_id"}),
    template=None,
    attacks={
        "similar_organization": Attack(
            "another organization with a similar slug and its own id",
            {
                "organization": "{organization}-evil",
                "organization_id": "{other_organization_id}",
                "pipeline_id": "{other_pipeline_id}",
            },
        ),
        "other_pipeline": Attack(
            "another pipeline of the organization",
            {"pipeline": "{pipeline}-sandbox", "pipeline_id": "{other_pipeline_id}"},
        ),
        "other_branch": Attack("a build of another branch", {"branch": "attacker-branch"}),
    },
    longest={
        "organization": "acme-platform-engineering",
        "pipeline": "payments-gateway-infrastructure-production",
        "branch": "feature/JIRA-123456-federate-the-deployment-pipeline",
        "step_key": "deploy-europe-west1",
    },
    longest_variant="branch",
    build=_build,
)
