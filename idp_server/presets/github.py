"""GitHub Actions' OIDC tokens (https://docs.github.com/en/actions/reference/security/oidc).

One issuer for every customer (``https://token.actions.githubusercontent.com``), so Google
requires a condition; ``sub`` names the repository and ref, environment or pull request, and
from 2026-07-15 (reported: github/docs PR #45221) new and renamed repositories get the
immutable form ``repo:OWNER@OWNER_ID/REPO@REPO_ID:ref:...``. Every id is a string ("1342004").
The times follow the docs' example: ``nbf`` 10 minutes before ``iat``, ``exp`` 5 minutes after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idp_server.presets.base import (
    Attack,
    Param,
    Preset,
    Template,
    audience_claim,
    jti,
    ref_name,
    stable_digits,
    stable_hex,
)

ISSUER = "https://token.actions.githubusercontent.com"
DEPLOYMENT_PIPELINES = (
    "https://docs.cloud.google.com/iam/docs/workload-identity-federation-with-deployment-pipelines"
)
LONG_BRANCH = "refs/heads/feature/JIRA-123456-make-the-deployment-pipeline-federate-without-keys"


def _derive(given: Mapping[str, str]) -> dict[str, str]:
    """``--repository acme/app`` alone means the owner is acme."""
    repository = given.get("repository")
    if repository and "/" in repository and "owner" not in given:
        return {"owner": repository.split("/", 1)[0]}
    return {}


def _build(
    variant: str, p: Mapping[str, str], issuer: str, aud: list[str] | None, now: int
) -> dict[str, Any]:
    repository = p["repository"]
    name = repository.split("/", 1)[-1]
    ref = p["ref"]
    event = "push"
    head_ref = base_ref = ""
    environment = None
    if variant == "tag":
        ref = p["tag"]
    elif variant == "pull_request":
        ref = f"refs/pull/{p['pr_number']}/merge"
        event = "pull_request"
        head_ref, base_ref = p["head_ref"], ref_name(p["ref"])
    elif variant == "environment":
        environment = p["environment"]
    ref_type = "tag" if ref.startswith("refs/tags/") else "branch"
    subject_repo = repository
    if variant == "immutable_sub":
        subject_repo = f"{p['owner']}@{p['owner_id']}/{name}@{p['repository_id']}"
    if variant == "pull_request":
        sub = f"repo:{subject_repo}:pull_request"
    elif environment is not None:
        sub = f"repo:{subject_repo}:environment:{environment}"
    else:
        sub = f"repo:{subject_repo}:ref:{ref}"
    workflow_path = f"{repository}/.github/workflows/{p['workflow_file']}@{ref}"
    job_workflow_ref = workflow_path
    if variant == "reusable_workflow":
        job_workflow_ref = p["job_workflow_ref"]
    sha = stable_hex("sha", repository, ref)
    claims: dict[str, Any] = {
        "jti": jti(),
        "sub": sub,
        "aud": audience_claim(aud),
        "ref": ref,
        "sha": sha,
        "repository": repository,
        "repository_owner": p["owner"],
        "repository_owner_id": p["owner_id"],
        "repository_visibility": p["visibility"],
        "repository_id": p["repository_id"],
        "actor_id": p["actor_id"],
        "actor": p["actor"],
        "run_id": p["run_id"],
        "run_number": "42",
        "run_attempt": "1",
        "runner_environment": p["runner_environment"],
        "workflow": p["workflow"],
        "workflow_ref": workflow_path,
        "workflow_sha": sha,
        "job_workflow_ref": job_workflow_ref,
        "job_workflow_sha": stable_hex("sha", job_workflow_ref),
        "head_ref": head_ref,
        "base_ref": base_ref,
        "event_name": event,
        "ref_type": ref_type,
        "ref_protected": "true" if ref == p["protected_ref"] else "false",
        "check_run_id": stable_digits("check", p["run_id"], length=11),
        "iss": issuer,
        "nbf": now - 600,
        "exp": now + 300,
        "iat": now,
    }
    if environment is not None:
        claims["environment"] = environment
    if p["enterprise"]:
        claims["enterprise"] = p["enterprise"]
        claims["enterprise_id"] = p["enterprise_id"]
    return claims


GITHUB = Preset(
    name="github",
    title="GitHub Actions",
    real_issuer=ISSUER,
    default_audience="https://github.com/{owner}",
    params={
        "owner": Param("acme", "the repository's owner (user or organization)"),
        "owner_id": Param("1342004", "the owner's numeric id, a string"),
        "repository": Param("{owner}/app", "OWNER/REPO"),
        "repository_id": Param("891234567", "the repository's numeric id, a string"),
        "ref": Param("refs/heads/main", "the git ref the workflow runs on"),
        "tag": Param("refs/tags/v1.0.0", "the ref of the tag variant"),
        "protected_ref": Param("refs/heads/main", "the ref with branch protection"),
        "environment": Param("production", "the deployment environment (environment variant)"),
        "pr_number": Param("17", "the pull request's number (pull_request variant)"),
        "head_ref": Param("feature/login", "the pull request's source branch"),
        "actor": Param("octocat", "who triggered the run"),
        "actor_id": Param("583231", "the actor's numeric id, a string"),
        "workflow": Param("deploy", "the workflow's name"),
        "workflow_file": Param("deploy.yml", "the workflow file under .github/workflows"),
        "job_workflow_ref": Param(
            "{owner}/shared-workflows/.github/workflows/deploy.yml@refs/heads/main",
            "the called workflow (reusable_workflow variant)",
        ),
        "run_id": Param("9876543210", "the run's id"),
        "visibility": Param("private", "public, private or internal"),
        "runner_environment": Param("github-hosted", "github-hosted or self-hosted"),
        "enterprise": Param("", "the enterprise slug (empty: none)"),
        "enterprise_id": Param("", "the enterprise's id"),
    },
    variants={
        "branch": "a push to a branch: sub repo:OWNER/REPO:ref:refs/heads/BRANCH",
        "tag": "a push of a tag: sub repo:OWNER/REPO:ref:refs/tags/TAG",
        "pull_request": "a pull_request run: sub repo:OWNER/REPO:pull_request",
        "environment": "a job with an environment: sub repo:OWNER/REPO:environment:ENV",
        "reusable_workflow": "a job of a called workflow: job_workflow_ref names the callee",
        "immutable_sub": "the 2026 default sub: repo:OWNER@OWNER_ID/REPO@REPO_ID:ref:REF",
    },
    shared_issuer=True,
    id_claims={
        "repository_owner": "repository_owner_id",
        "repository": "repository_id",
        "actor": "actor_id",
        "enterprise": "enterprise_id",
    },
    string_id_claims=frozenset(
        {
            "repository_owner_id",
            "repository_id",
            "actor_id",
            "enterprise_id",
            "run_id",
            "run_number",
            "run_attempt",
            "check_run_id",
        }
    ),
    template=Template(
        attribute_mapping={
            "google.subject": "assertion.sub",
            "attribute.repository": "assertion.repository",
            "attribute.repository_id": "assertion.repository_id",
            "attribute.repository_owner_id": "assertion.repository_owner_id",
        },
        # Google's condition is on repository_owner; it warns to prefer the *_id claims,
        # which a renamed or deleted owner's successor cannot take over.
        attribute_condition="assertion.repository_owner_id == '{OWNER_ID}'",
        placeholders={"OWNER_ID": "owner_id"},
        source=DEPLOYMENT_PIPELINES,
    ),
    attacks={
        "similar_owner": Attack(
            "another owner with a similar name and its own id",
            {
                "owner": "{owner}-evil",
                "owner_id": "{other_owner_id}",
                "repository": "{owner}-evil/{repository_name}",
                "repository_id": "{other_repository_id}",
                "actor": "mallory",
                "actor_id": "{other_actor_id}",
            },
        ),
        "reused_owner_name": Attack(
            "the owner's name, taken over by someone else after a rename (another id)",
            {
                "owner_id": "{other_owner_id}",
                "repository_id": "{other_repository_id}",
                "actor": "mallory",
                "actor_id": "{other_actor_id}",
            },
        ),
        "fork_pull_request": Attack(
            "a pull request from a fork, run in the repository's context",
            {"actor": "mallory", "actor_id": "{other_actor_id}", "head_ref": "patch-1"},
            variant="pull_request",
        ),
        "other_branch": Attack(
            "a push to another, unprotected branch of the repository",
            {"ref": "refs/heads/attacker-branch"},
            variant="branch",
        ),
        "other_environment": Attack(
            "a job in another environment, run from another branch",
            {"environment": "staging", "ref": "refs/heads/staging"},
            variant="environment",
        ),
    },
    longest={
        "ref": LONG_BRANCH,
        "owner": "acme-platform-engineering",
        "repository": "acme-platform-engineering/payments-service-infrastructure-live",
    },
    longest_variant="branch",
    derive=_derive,
    build=_build,
)
