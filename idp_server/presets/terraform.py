"""HCP Terraform's workload identity tokens
(https://developer.hashicorp.com/terraform/cloud-docs/workspaces/dynamic-provider-credentials).

One issuer (``https://app.terraform.io``) for every organization, so Google requires a
condition. ``sub`` is ``organization:ORG:project:PROJECT:workspace:WS:run_phase:plan|apply``;
names may contain spaces (the default project is "Default Project") and the sub can exceed
Google's 127 bytes, which is why Google's template maps google.subject to the workspace id.
Times as in HashiCorp's example: ``nbf`` 5 s before ``iat``, ``exp`` 5 minutes after.
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
)
from idp_server.presets.github import DEPLOYMENT_PIPELINES

ISSUER = "https://app.terraform.io"


def _build(
    variant: str, p: Mapping[str, str], issuer: str, aud: list[str] | None, now: int
) -> dict[str, Any]:
    phase = variant
    full_workspace = (
        f"organization:{p['organization']}:project:{p['project']}:workspace:{p['workspace']}"
    )
    return {
        "jti": jti(),
        "iss": issuer,
        "aud": audience_claim(aud),
        "iat": now,
        "nbf": now - 5,
        "exp": now + 300,
        "sub": f"{full_workspace}:run_phase:{phase}",
        "terraform_organization_id": p["organization_id"],
        "terraform_organization_name": p["organization"],
        "terraform_project_id": p["project_id"],
        "terraform_project_name": p["project"],
        "terraform_workspace_id": p["workspace_id"],
        "terraform_workspace_name": p["workspace"],
        "terraform_full_workspace": full_workspace,
        "terraform_run_id": p["run_id"],
        "terraform_run_phase": phase,
    }


TERRAFORM = Preset(
    name="terraform",
    title="HCP Terraform",
    real_issuer=ISSUER,
    # reported: HCP Terraform derives the audience from TFC_GCP_WORKLOAD_PROVIDER_NAME.
    default_audience="//iam.googleapis.com/{workload_provider_name}",
    params={
        "organization": Param("acme", "the organization's name"),
        "organization_id": Param("org-GRNbCjYNpBB6NEH9", "the organization's id"),
        "project": Param("Default Project", "the project's name (may contain spaces)"),
        "project_id": Param("prj-vegSA59s1XPwMr2t", "the project's id"),
        "workspace": Param("app-production", "the workspace's name"),
        "workspace_id": Param("ws-y7gUvn6PDmVX5sCq", "the workspace's id"),
        "run_id": Param("run-X3n1AUXNGWbfECsJ", "the run's id"),
        "workload_provider_name": Param(
            "projects/123456789012/locations/global/workloadIdentityPools/terraform/providers/hcp",
            "TFC_GCP_WORKLOAD_PROVIDER_NAME: the default audience's provider",
        ),
    },
    variants={
        "apply": "the apply phase: sub ...:run_phase:apply",
        "plan": "the plan phase (speculative plans too): sub ...:run_phase:plan",
    },
    shared_issuer=True,
    id_claims={
        "terraform_organization_name": "terraform_organization_id",
        "terraform_project_name": "terraform_project_id",
        "terraform_workspace_name": "terraform_workspace_id",
    },
    string_id_claims=frozenset(
        {
            "terraform_organization_id",
            "terraform_project_id",
            "terraform_workspace_id",
            "terraform_run_id",
        }
    ),
    template=Template(
        attribute_mapping={
            "google.subject": "assertion.terraform_workspace_id",
            "attribute.terraform_workspace_id": "assertion.terraform_workspace_id",
            "attribute.terraform_full_workspace": "assertion.terraform_full_workspace",
        },
        attribute_condition="assertion.terraform_organization_id == '{ORGANIZATION_ID}'",
        placeholders={"ORGANIZATION_ID": "organization_id"},
        source=DEPLOYMENT_PIPELINES,
    ),
    attacks={
        "similar_organization": Attack(
            "another organization with a similar name and its own id",
            {
                "organization": "{organization}-evil",
                "organization_id": "{other_organization_id}",
                "project_id": "{other_project_id}",
                "workspace_id": "{other_workspace_id}",
            },
        ),
        "same_workspace_name": Attack(
            "a workspace and project named like the victim's in another organization",
            {
                "organization_id": "{other_organization_id}",
                "project_id": "{other_project_id}",
                "workspace_id": "{other_workspace_id}",
            },
        ),
    },
    longest={
        "organization": "acme-platform-engineering",
        "project": "Payments Platform Production Infrastructure",
        "workspace": "payments-gateway-production-europe-west1-networking",
    },
    longest_variant="apply",
    build=_build,
)
