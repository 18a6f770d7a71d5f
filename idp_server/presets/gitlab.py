"""GitLab CI's ``id_tokens`` (https://docs.gitlab.com/ci/secrets/id_token_authentication/).

GitLab SaaS is one issuer (``https://gitlab.com``) for every group, so Google requires a
condition. ``sub`` is ``project_path:GROUP/PROJECT:ref_type:branch|tag:ref:REF``; ids are
strings except ``runner_id`` (a number); ``ref_protected`` and ``environment_protected`` are the
strings "true" and "false". The job must set ``aud`` (no default). Times as in the docs'
example: ``nbf`` 5 s before ``iat``, ``exp`` an hour after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idp_server.presets.base import (
    Attack,
    Param,
    Preset,
    Template,
    as_int,
    audience_claim,
    jti,
    stable_digits,
    stable_hex,
)
from idp_server.presets.github import DEPLOYMENT_PIPELINES

ISSUER = "https://gitlab.com"


def _derive(given: Mapping[str, str]) -> dict[str, str]:
    project = given.get("project_path")
    if project and "/" in project and "namespace_path" not in given:
        return {"namespace_path": project.rsplit("/", 1)[0]}
    return {}


def _build(
    variant: str, p: Mapping[str, str], issuer: str, aud: list[str] | None, now: int
) -> dict[str, Any]:
    ref, ref_type, protected = p["ref"], "branch", "true"
    ref_path = f"refs/heads/{ref}"
    source = "push"
    user_login, user_id = p["user_login"], p["user_id"]
    if variant == "unprotected_branch":
        ref, protected = p["unprotected_ref"], "false"
        ref_path = f"refs/heads/{ref}"
    elif variant == "protected_tag":
        ref, ref_type = p["tag"], "tag"
        ref_path = f"refs/tags/{ref}"
    elif variant in ("merge_request", "forked_merge_request"):
        # A merge request pipeline runs on the source branch, which is not protected.
        # unverified: a fork's merge request pipeline run in the parent project carries the
        # parent's project and namespace claims and the fork's branch (gitlab issue 404722).
        ref, protected, source = p["mr_source_branch"], "false", "merge_request_event"
        ref_path = f"refs/merge-requests/{p['mr_iid']}/head"
    sub = f"project_path:{p['project_path']}:ref_type:{ref_type}:ref:{ref}"
    host = issuer.split("://", 1)[-1].rstrip("/")
    sha = stable_hex("sha", p["project_path"], ref)
    claims: dict[str, Any] = {
        "namespace_id": p["namespace_id"],
        "namespace_path": p["namespace_path"],
        "project_id": p["project_id"],
        "project_path": p["project_path"],
        "user_id": user_id,
        "user_login": user_login,
        "user_email": p["user_email"],
        "user_access_level": p["user_access_level"],
        "pipeline_id": p["pipeline_id"],
        "pipeline_source": source,
        "job_id": stable_digits("job", p["pipeline_id"], length=10),
        "ref": ref,
        "ref_type": ref_type,
        "ref_path": ref_path,
        "ref_protected": protected,
        "runner_id": as_int(p, "runner_id"),
        "runner_environment": p["runner_environment"],
        "sha": sha,
        "project_visibility": p["visibility"],
        "ci_config_ref_uri": f"{host}/{p['project_path']}//.gitlab-ci.yml@{ref_path}",
        "ci_config_sha": sha,
        "jti": jti(),
        "iss": issuer,
        "iat": now,
        "nbf": now - 5,
        "exp": now + 3600,
        "sub": sub,
        "aud": audience_claim(aud),
    }
    if variant == "environment":
        claims["environment"] = p["environment"]
        claims["environment_protected"] = "true"
        claims["deployment_tier"] = p["deployment_tier"]
        claims["environment_action"] = "start"
    return claims


GITLAB = Preset(
    name="gitlab",
    title="GitLab CI (gitlab.com)",
    real_issuer=ISSUER,
    default_audience=None,
    params={
        "namespace_path": Param("acme", "the group (or user namespace) path"),
        "namespace_id": Param("4242", "the group's numeric id, a string"),
        "project_path": Param("{namespace_path}/app", "GROUP/PROJECT"),
        "project_id": Param("51234567", "the project's numeric id, a string"),
        "ref": Param("main", "the protected branch the pipeline runs on"),
        "unprotected_ref": Param("feature/login", "a branch without protection"),
        "tag": Param("v1.0.0", "the protected tag (protected_tag variant)"),
        "mr_source_branch": Param("patch-1", "a merge request's source branch"),
        "mr_iid": Param("7", "the merge request's number in the project"),
        "environment": Param("production", "the environment (environment variant)"),
        "deployment_tier": Param("production", "the environment's tier"),
        "user_login": Param("sample-user", "who started the pipeline"),
        "user_id": Param("1001", "their numeric id, a string"),
        "user_email": Param("sample-user@example.com", "their email"),
        "user_access_level": Param("maintainer", "their role in the project"),
        "pipeline_id": Param("1234567890", "the pipeline's id"),
        "runner_id": Param("12270837", "the runner's id (a number in the token)"),
        "runner_environment": Param("gitlab-hosted", "gitlab-hosted or self-hosted"),
        "visibility": Param("private", "public, internal or private"),
    },
    variants={
        "protected_branch": "a pipeline on a protected branch (ref_protected 'true')",
        "unprotected_branch": "a pipeline on an unprotected branch (ref_protected 'false')",
        "protected_tag": "a pipeline for a protected tag: ref_type tag",
        "merge_request": "a merge request pipeline (pipeline_source merge_request_event)",
        "forked_merge_request": "a fork's merge request, run in the parent project",
        "environment": "a deployment job: environment, environment_protected, deployment_tier",
    },
    shared_issuer=True,
    id_claims={
        "namespace_path": "namespace_id",
        "project_path": "project_id",
        "user_login": "user_id",
    },
    string_id_claims=frozenset({"namespace_id", "project_id", "user_id", "pipeline_id", "job_id"}),
    template=Template(
        attribute_mapping={
            "google.subject": "assertion.sub",
            "attribute.project_id": "assertion.project_id",
            "attribute.namespace_id": "assertion.namespace_id",
        },
        attribute_condition="assertion.namespace_id == '{GROUP_ID}'",
        placeholders={"GROUP_ID": "namespace_id"},
        source=DEPLOYMENT_PIPELINES,
    ),
    attacks={
        "similar_namespace": Attack(
            "another group with a similar path and its own id",
            {
                "namespace_path": "{namespace_path}-evil",
                "namespace_id": "{other_namespace_id}",
                "project_path": "{namespace_path}-evil/{project_path_name}",
                "project_id": "{other_project_id}",
                "user_login": "mallory",
                "user_id": "{other_user_id}",
            },
        ),
        "subgroup_lookalike": Attack(
            "a group whose path starts with the victim's path (no '/' after it)",
            {
                "namespace_path": "{namespace_path}2",
                "namespace_id": "{other_namespace_id}",
                "project_path": "{namespace_path}2/{project_path_name}",
                "project_id": "{other_project_id}",
            },
        ),
        "unprotected_ref": Attack(
            "a pipeline on a branch anyone with Developer access can push",
            {"unprotected_ref": "attacker-branch", "user_login": "mallory"},
            variant="unprotected_branch",
        ),
        "forked_merge_request": Attack(
            "a merge request from a fork, its pipeline run in the parent project",
            {"mr_source_branch": "patch-1", "user_login": "mallory", "user_id": "{other_user_id}"},
            variant="forked_merge_request",
        ),
    },
    longest={
        "namespace_path": "acme-platform-engineering/infrastructure/production-services",
        "project_path": "acme-platform-engineering/infrastructure/production-services/"
        "payments-gateway-terraform",
        "ref": "release/2026-12-payments-gateway-infrastructure-upgrade",
    },
    longest_variant="protected_branch",
    derive=_derive,
    build=_build,
)
