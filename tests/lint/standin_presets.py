"""A stand-in for idp_server.presets (the preset contract of issue 16), used until the presets
land: the few providers the lint tests need, shaped exactly like ``Preset``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Template:
    attributeMapping: dict[str, str]
    attributeCondition: str | None
    placeholders: dict[str, str]
    source: str


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    real_issuer: str
    issuer_path: str
    default_audience: str | None
    shared_issuer: bool
    id_claims: dict[str, str]
    string_id_claims: frozenset[str]
    sub: str
    long_sub: str
    extra: dict[str, Any] = field(default_factory=dict)
    template: Template | None = None
    params: dict[str, Any] = field(default_factory=dict)
    variants: dict[str, str] = field(default_factory=dict)
    attacks: dict[str, Any] = field(default_factory=dict)

    def claims(self, variant=None, *, issuer, audience, now, **params) -> dict[str, Any]:
        return {
            "iss": issuer,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "sub": self.sub,
            **self.extra,
        }

    def longest_subject(self, **params) -> str:
        return self.long_sub


_LONG_BRANCH = "feature/" + "very-long-branch-name-" * 5
PRESETS = {
    "github": Preset(
        "github",
        "GitHub Actions",
        "https://token.actions.githubusercontent.com",
        "/presets/github",
        None,
        True,
        {
            "repository_owner": "repository_owner_id",
            "repository": "repository_id",
            "actor": "actor_id",
        },
        frozenset({"repository_owner_id", "repository_id", "actor_id", "run_id"}),
        "repo:acme/app:ref:refs/heads/main",
        "repo:acme/app:ref:refs/heads/release/2026-12",
        {
            "repository": "acme/app",
            "repository_id": "456789",
            "repository_owner": "acme",
            "repository_owner_id": "1342004",
            "ref": "refs/heads/main",
        },
    ),
    "gitlab": Preset(
        "gitlab",
        "GitLab CI",
        "https://gitlab.com",
        "/presets/gitlab",
        None,
        True,
        {"namespace_path": "namespace_id", "project_path": "project_id"},
        frozenset({"namespace_id", "project_id", "user_id"}),
        "project_path:group/app:ref_type:branch:ref:main",
        f"project_path:group/app:ref_type:branch:ref:{_LONG_BRANCH}",
        {
            "namespace_path": "group",
            "namespace_id": "42",
            "project_path": "group/app",
            "project_id": "7",
        },
    ),
    "terraform": Preset(
        "terraform",
        "HCP Terraform",
        "https://app.terraform.io",
        "/presets/terraform",
        None,
        True,
        {"terraform_organization_name": "terraform_organization_id"},
        frozenset({"terraform_organization_id"}),
        "organization:acme:project:Default Project:workspace:ws:run_phase:plan",
        "organization:acme:project:"
        + "A Very Long Project Name " * 4
        + ":workspace:ws:run_phase:apply",
        {"terraform_workspace_id": "ws-abc", "terraform_organization_id": "org-1"},
    ),
    "circleci": Preset(
        "circleci",
        "CircleCI",
        "https://oidc.circleci.com/org/{org_id}",
        "/presets/circleci",
        None,
        False,
        {},
        frozenset(),
        "org/1/project/2/user/3",
        "org/1/project/2/user/3",
    ),
}
