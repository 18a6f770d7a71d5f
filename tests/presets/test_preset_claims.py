"""Each preset's tokens carry the claims its provider documents, with their documented types.

The claim lists below are copied from /work/shared/reference/identity-providers.md (table 3a)
and the providers' docs it cites, literally: they are not the presets' own constants.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idp_server.presets import PRESETS, PresetError, preset

NOW = 1_800_000_000
AUD = "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/p/providers/q"  # noqa: E501

# Table 3a, "Notable extra claims", GitHub Actions row.
GITHUB_CLAIMS = [
    "jti",
    "ref",
    "ref_type",
    "ref_protected",
    "sha",
    "repository",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "repository_visibility",
    "run_id",
    "run_number",
    "run_attempt",
    "actor",
    "actor_id",
    "workflow",
    "workflow_ref",
    "workflow_sha",
    "job_workflow_ref",
    "job_workflow_sha",
    "event_name",
    "head_ref",
    "base_ref",
    "runner_environment",
    "check_run_id",
]
GITLAB_CLAIMS = [
    "namespace_id",
    "namespace_path",
    "project_id",
    "project_path",
    "user_id",
    "user_login",
    "user_email",
    "user_access_level",
    "pipeline_id",
    "pipeline_source",
    "job_id",
    "ref",
    "ref_type",
    "ref_path",
    "ref_protected",
    "runner_id",
    "runner_environment",
    "sha",
    "ci_config_ref_uri",
    "ci_config_sha",
]
TERRAFORM_CLAIMS = [
    "terraform_organization_id",
    "terraform_organization_name",
    "terraform_project_id",
    "terraform_project_name",
    "terraform_workspace_id",
    "terraform_workspace_name",
    "terraform_full_workspace",
    "terraform_run_id",
    "terraform_run_phase",
]
AZURE_CLAIMS = ["appid", "appidacr", "idp", "oid", "tid", "uti", "ver", "xms_mirid", "idtyp"]
CIRCLECI_CLAIMS = [
    "oidc.circleci.com/project-id",
    "oidc.circleci.com/context-ids",
    "oidc.circleci.com/vcs-origin",
    "oidc.circleci.com/vcs-ref",
    "oidc.circleci.com/ssh-rerun",
]
BITBUCKET_CLAIMS = ["workspaceUuid", "repositoryUuid", "pipelineUuid", "stepUuid", "branchName"]
BUILDKITE_CLAIMS = [
    "organization_slug",
    "pipeline_slug",
    "build_number",
    "build_branch",
    "build_tag",
    "build_commit",
    "step_key",
    "job_id",
    "agent_id",
]
OKTA_CLAIMS = ["cid", "scp", "ver", "jti"]
REGISTERED = ["iss", "sub", "aud", "iat", "exp"]


def claims(name: str, variant: str | None = None, **params: str) -> dict[str, Any]:
    chosen = preset(name)
    return chosen.claims(
        variant, issuer=chosen.issuer_for(**params), audience=AUD, now=NOW, **params
    )


def test_the_thirteen_presets_of_the_contract() -> None:
    assert list(PRESETS) == [
        "github",
        "gitlab",
        "terraform",
        "kubernetes",
        "gke",
        "eks",
        "aks",
        "azure",
        "azure-devops",
        "circleci",
        "bitbucket",
        "buildkite",
        "okta",
    ]
    for name, chosen in PRESETS.items():
        assert chosen.issuer_path == f"/presets/{name}"


@pytest.mark.parametrize(
    ("name", "documented"),
    [
        ("github", GITHUB_CLAIMS),
        ("gitlab", GITLAB_CLAIMS),
        ("terraform", TERRAFORM_CLAIMS),
        ("azure", AZURE_CLAIMS),
        ("circleci", CIRCLECI_CLAIMS),
        ("bitbucket", BITBUCKET_CLAIMS),
        ("buildkite", BUILDKITE_CLAIMS),
        ("okta", OKTA_CLAIMS),
    ],
)
def test_every_documented_claim_is_in_every_variant(name: str, documented: list[str]) -> None:
    for variant in PRESETS[name].variants:
        token = claims(name, variant)
        missing = [c for c in [*REGISTERED, *documented] if c not in token]
        assert not missing, f"{name}/{variant} lacks {missing}"


def test_github_ids_are_strings_and_times_are_the_docs_shape() -> None:
    token = claims("github", owner_id="1342004", repository_id="74")
    assert token["repository_owner_id"] == "1342004"
    assert token["repository_id"] == "74"
    for claim in ("actor_id", "run_id", "run_number", "run_attempt"):
        assert isinstance(token[claim], str) and token[claim].isdigit(), claim
    assert token["iss"] == "https://token.actions.githubusercontent.com"
    # The docs' example: nbf 600 s before iat, exp 300 s after: short-lived.
    assert (token["nbf"], token["iat"], token["exp"]) == (NOW - 600, NOW, NOW + 300)
    assert token["ref_protected"] in ("true", "false")


def test_github_default_audience_is_the_owner_url() -> None:
    chosen = preset("github")
    token = chosen.claims(issuer="i", audience=None, now=NOW, repository="octo-org/octo-repo")
    assert token["aud"] == "https://github.com/octo-org"
    assert token["repository_owner"] == "octo-org"


@pytest.mark.parametrize(
    ("variant", "sub"),
    [
        ("branch", "repo:acme/app:ref:refs/heads/main"),
        ("tag", "repo:acme/app:ref:refs/tags/v1.0.0"),
        ("pull_request", "repo:acme/app:pull_request"),
        ("environment", "repo:acme/app:environment:production"),
        ("reusable_workflow", "repo:acme/app:ref:refs/heads/main"),
        # The 2026 format, as in github/docs PR #45221's example repo:octocat@123456/my-repo@456789.
        ("immutable_sub", "repo:acme@1342004/app@891234567:ref:refs/heads/main"),
    ],
)
def test_github_subjects_per_variant(variant: str, sub: str) -> None:
    token = claims("github", variant, repository="acme/app", owner_id="1342004")
    assert token["sub"] == sub


def test_github_variants_carry_their_claims() -> None:
    pr = claims("github", "pull_request", pr_number="9", head_ref="patch-1")
    assert (pr["event_name"], pr["ref"], pr["head_ref"], pr["base_ref"]) == (
        "pull_request",
        "refs/pull/9/merge",
        "patch-1",
        "main",
    )
    assert claims("github", "environment", environment="prod")["environment"] == "prod"
    assert "environment" not in claims("github", "branch")
    tag = claims("github", "tag")
    assert tag["ref_type"] == "tag"
    reusable = claims("github", "reusable_workflow")
    assert reusable["job_workflow_ref"] != reusable["workflow_ref"]
    assert reusable["job_workflow_ref"].startswith("acme/shared-workflows/.github/workflows/")


def test_gitlab_shapes() -> None:
    protected = claims("gitlab", "protected_branch", project_path="my-group/my-project")
    assert protected["sub"] == "project_path:my-group/my-project:ref_type:branch:ref:main"
    assert protected["namespace_path"] == "my-group"
    assert protected["ref_protected"] == "true"
    assert isinstance(protected["runner_id"], int) and not isinstance(protected["runner_id"], bool)
    for claim in ("namespace_id", "project_id", "user_id", "pipeline_id", "job_id"):
        assert isinstance(protected[claim], str) and protected[claim].isdigit(), claim
    assert claims("gitlab", "unprotected_branch")["ref_protected"] == "false"
    tag = claims("gitlab", "protected_tag")
    assert tag["ref_type"] == "tag" and ":ref_type:tag:" in tag["sub"]
    fork = claims("gitlab", "forked_merge_request")
    assert fork["pipeline_source"] == "merge_request_event"
    assert fork["ref_protected"] == "false"
    env = claims("gitlab", "environment")
    assert {"environment", "environment_protected", "deployment_tier"} <= set(env)
    assert env["iss"] == "https://gitlab.com"


def test_gitlab_tokens_have_no_default_audience() -> None:
    with pytest.raises(PresetError, match=r"^aud: "):
        preset("gitlab").claims(issuer="i", audience=None, now=NOW)


def test_terraform_sub_has_spaces_and_the_phase() -> None:
    token = claims("terraform", "plan")
    assert token["sub"] == (
        "organization:acme:project:Default Project:workspace:app-production:run_phase:plan"
    )
    assert token["terraform_run_phase"] == "plan"
    assert token["iss"] == "https://app.terraform.io"
    assert re.fullmatch(r"org-[A-Za-z0-9]{16}", token["terraform_organization_id"])


@pytest.mark.parametrize("name", ["kubernetes", "gke", "eks", "aks"])
def test_kubernetes_projected_tokens(name: str) -> None:
    token = claims(name, "projected", namespace="ns1", service_account="sa1")
    assert token["sub"] == "system:serviceaccount:ns1:sa1"
    assert isinstance(token["aud"], list) and token["aud"] == [AUD]
    k8s = token["kubernetes.io"]
    assert set(k8s) == {"namespace", "pod", "serviceaccount", "node", "warnafter"}
    assert k8s["namespace"] == "ns1"
    assert k8s["serviceaccount"]["name"] == "sa1"
    for part in ("pod", "serviceaccount", "node"):
        assert set(k8s[part]) == {"name", "uid"}


def test_kubernetes_legacy_token_is_flat_and_never_expires() -> None:
    token = claims("kubernetes", "legacy", namespace="default", service_account="default")
    assert token["iss"] == "kubernetes/serviceaccount"
    assert token["kubernetes.io/serviceaccount/namespace"] == "default"
    assert token["kubernetes.io/serviceaccount/service-account.name"] == "default"
    assert "aud" not in token and "exp" not in token and "iat" not in token


def test_cluster_issuers() -> None:
    assert preset("gke").issuer_for(project="p1", location="europe-west1", cluster="c1") == (
        "https://container.googleapis.com/v1/projects/p1/locations/europe-west1/clusters/c1"
    )
    assert preset("eks").issuer_for(region="eu-west-1", cluster_id="ABC") == (
        "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"
    )
    aks = preset("aks").issuer_for(region="westeurope", tenant_id="t", cluster_guid="g")
    assert aks == "https://westeurope.oic.prod-aks.azure.com/t/g/"


def test_other_providers_shapes() -> None:
    azure = claims("azure")
    assert azure["ver"] == "1.0" and azure["sub"] == azure["oid"]
    assert azure["iss"].startswith("https://sts.windows.net/") and azure["iss"].endswith("/")
    devops = claims("azure-devops")
    assert "/sc/" in devops["sub"]
    assert preset("azure-devops").default_audience == "fb60f99c-7a34-4190-8149-302f77469936"
    circle = claims("circleci", org_id="O1", project_id="P1", user_id="U1")
    assert circle["sub"] == "org/O1/project/P1/user/U1"
    assert circle["iss"] == "https://oidc.circleci.com/org/O1"
    assert isinstance(circle["oidc.circleci.com/context-ids"], list)
    assert circle["oidc.circleci.com/ssh-rerun"] is False
    assert claims("circleci", "ssh_rerun")["oidc.circleci.com/ssh-rerun"] is True
    bitbucket = claims("bitbucket", "deployment")
    assert re.fullmatch(r"\{[0-9a-f-]{36}\}:\{[0-9a-f-]{36}\}:\{[0-9a-f-]{36}\}", bitbucket["sub"])
    buildkite = claims("buildkite")
    assert isinstance(buildkite["build_number"], int)
    assert buildkite["sub"].startswith("organization:acme:pipeline:app:ref:refs/heads/main:commit:")
    assert claims("buildkite", step_key="")["step_key"] is None
    okta = claims("okta")
    assert okta["ver"] == 1 and okta["sub"] == okta["cid"] and isinstance(okta["scp"], list)
    org = claims("okta", "org_authorization_server")
    assert org["iss"] == "https://acme.okta.com"


def test_longest_subjects_are_realistic_and_some_exceed_127_bytes() -> None:
    over = {name for name, p in PRESETS.items() if len(p.longest_subject().encode()) > 127}
    # The reference: HCP Terraform's and Azure DevOps' subs "can exceed 127 B", GitHub's with
    # long branch names (auth #124, #423).
    assert {"github", "terraform", "azure-devops"} <= over
    assert preset("github").longest_subject(ref="refs/heads/x").endswith(":ref:refs/heads/x")


def test_templates_are_googles() -> None:
    github = preset("github").template
    assert github is not None and github.source.startswith("https://docs.cloud.google.com/")
    assert github.filled({"owner_id": "1342004"})[1] == "assertion.repository_owner_id == '1342004'"
    gitlab = preset("gitlab").template
    assert gitlab is not None
    assert gitlab.filled({"namespace_id": "72"})[1] == "assertion.namespace_id == '72'"
    terraform = preset("terraform").template
    assert terraform is not None
    assert terraform.attribute_mapping["google.subject"] == "assertion.terraform_workspace_id"
    devops = preset("azure-devops").template
    assert devops is not None
    assert devops.attribute_mapping["google.subject"] == "assertion.sub.split('/sc/')[1]"
    with pytest.raises(PresetError, match="OWNER_ID: needs a value for owner_id"):
        github.filled({})
    for name in ("circleci", "bitbucket", "buildkite", "okta"):
        assert PRESETS[name].template is None


def test_bad_variant_param_and_audience_are_named() -> None:
    github = preset("github")
    with pytest.raises(PresetError, match=r"^variant: 'nope' is not a variant of github"):
        github.claims("nope", issuer="i", audience=None, now=NOW)
    with pytest.raises(PresetError, match=r"^colour: not a param of github"):
        github.claims(issuer="i", audience=None, now=NOW, colour="red")
    with pytest.raises(PresetError, match=r"^aud: "):
        github.claims(issuer="i", audience=[], now=NOW)
    with pytest.raises(PresetError, match=r"^runner_id: must be a decimal number"):
        preset("gitlab").claims(issuer="i", audience="a", now=NOW, runner_id="x")
    with pytest.raises(PresetError, match=r"^preset: 'nope' is not one of github, gitlab"):
        preset("nope")


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(list(PRESETS)),
    data=st.data(),
)
def test_any_param_value_gives_claims_or_a_named_error(name: str, data: st.DataObject) -> None:
    chosen = PRESETS[name]
    param = data.draw(st.sampled_from(list(chosen.params)))
    value = data.draw(st.text(max_size=600))
    variant = data.draw(st.sampled_from(list(chosen.variants)))
    try:
        token = chosen.claims(variant, issuer="https://i", audience="a", now=NOW, **{param: value})
    except PresetError as exc:
        assert str(exc).startswith(f"{param}: ")
    else:
        assert isinstance(token["sub"], str)


def test_a_topology_default_never_contradicts_what_the_caller_asked_for():
    """idp.presets says owner acme; a job asking for repository octo/site gets owner octo."""
    github = PRESETS["github"]
    params = github.layered({"owner": "acme", "owner_id": "1342004"}, {"repository": "octo/site"})
    claims = github.claims(issuer="https://i", audience="a", now=0, **params)
    assert (claims["repository"], claims["repository_owner"]) == ("octo/site", "octo")
    assert claims["repository_owner_id"] == "1342004"
    assert github.layered({"owner": "acme"}, {})["owner"] == "acme"
