"""Each lint rule: a case that fires and a near-identical one that does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lint.helpers import POOL, SUBJECT, ids, lint_doc, topology

WIU = "roles/iam.workloadIdentityUser"
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"


def test_the_clean_base_topology_has_no_findings(tmp_path: Path) -> None:
    assert lint_doc(tmp_path, topology()) == []


# WIF001: Google refuses a shared-issuer provider without a condition on its claims.
@pytest.mark.parametrize(
    "issuer",
    [
        "https://token.actions.githubusercontent.com",
        "https://gitlab.com",
        "https://app.terraform.io/",
    ],
)
def test_a_shared_issuer_without_a_condition_is_an_error(tmp_path: Path, issuer: str) -> None:
    doc = topology(
        oidc={"issuerUri": issuer},
        attributeCondition=None,
        attributeMapping={
            "google.subject": "assertion.aud",
            "attribute.repository_id": "assertion.aud",
        },
    )
    findings = lint_doc(tmp_path, doc)
    assert ids(findings) == ["WIF001"]
    assert findings[0].level == "error"
    assert findings[0].resource == "pools[0].providers[0].attributeCondition"
    assert "The attribute condition must reference one of the provider's claims" in findings[0].why
    written = (tmp_path / "wif.yaml").read_text().splitlines()
    assert findings[0].where is not None and findings[0].where.line is not None
    assert written[findings[0].where.line - 1].strip() == "- id: github"


def test_a_condition_that_reads_no_claim_on_a_shared_issuer_fires(tmp_path: Path) -> None:
    assert ids(lint_doc(tmp_path, topology(attributeCondition="true"))) == ["WIF001"]


def test_an_unshared_issuer_needs_no_condition(tmp_path: Path) -> None:
    doc = topology(oidc={"issuerUri": "https://oidc.circleci.com/org/abc"}, attributeCondition=None)
    assert lint_doc(tmp_path, doc) == []


# WIF002: mutable names where ids exist.
def test_a_condition_on_the_owner_name_warns_and_names_the_id_claim(tmp_path: Path) -> None:
    findings = lint_doc(
        tmp_path, topology(attributeCondition="assertion.repository_owner == 'acme'")
    )
    assert ids(findings) == ["WIF002"]
    assert findings[0].level == "warning"
    assert "assertion.repository_owner_id" in findings[0].message


def test_a_condition_on_the_owner_id_does_not_warn(tmp_path: Path) -> None:
    doc = topology(attributeCondition="assertion.repository_owner_id == '1342004'")
    assert lint_doc(tmp_path, doc) == []


def test_a_name_pinned_together_with_its_id_does_not_warn(tmp_path: Path) -> None:
    condition = "assertion.repository_owner_id == '1342004' && assertion.repository_owner == 'acme'"
    assert lint_doc(tmp_path, topology(attributeCondition=condition)) == []


def test_gitlab_namespace_path_warns_namespace_id_does_not(tmp_path: Path) -> None:
    gitlab = {"issuerUri": "https://gitlab.com"}
    short = {"google.subject": "assertion.project_id", "attribute.repository_id": "assertion.aud"}
    by_path = topology(
        oidc=gitlab,
        attributeMapping=short,
        attributeCondition="assertion.namespace_path == 'group'",
    )
    by_id = topology(
        oidc=gitlab, attributeMapping=short, attributeCondition="assertion.namespace_id == '42'"
    )
    assert ids(lint_doc(tmp_path, by_path)) == ["WIF002"]
    assert lint_doc(tmp_path, by_id) == []


def test_a_principal_set_on_an_attribute_mapped_from_a_name_warns(tmp_path: Path) -> None:
    mapping = {"google.subject": "assertion.sha", "attribute.owner": "assertion.repository_owner"}
    binding = {"role": WIU, "members": [f"{POOL}/attribute.owner/acme"]}
    findings = lint_doc(tmp_path, topology(attributeMapping=mapping, binding=binding))
    assert ids(findings) == ["WIF002"]
    assert findings[0].resource == "serviceAccounts[0].policy.bindings[0].members[0]"
    mapping_by_id = {
        "google.subject": "assertion.sha",
        "attribute.owner": "assertion.repository_owner_id",
    }
    assert lint_doc(tmp_path, topology(attributeMapping=mapping_by_id, binding=binding)) == []


def test_google_subject_from_a_name_claim_warns(tmp_path: Path) -> None:
    mapping = {
        "google.subject": "assertion.repository",
        "attribute.repository_id": "assertion.repository_id",
    }
    assert ids(lint_doc(tmp_path, topology(attributeMapping=mapping))) == ["WIF002"]


# WIF003: ids are strings; CEL never equals a string with an int.
@pytest.mark.parametrize(
    "condition",
    [
        "assertion.repository_owner_id == 1342004",
        "1342004 == assertion.repository_owner_id",
        "assertion.repository_owner_id in [1342004, 7]",
        "attribute.repository_id == 456789",
        "assertion.sub == 42 && assertion.repository_owner_id == '1342004'",
        "assertion['repository_id'] == 456789 && assertion.repository_owner_id == '1342004'",
    ],
)
def test_an_id_compared_with_a_number_is_an_error(tmp_path: Path, condition: str) -> None:
    findings = lint_doc(tmp_path, topology(attributeCondition=condition))
    assert ids(findings) == ["WIF003"]
    assert findings[0].level == "error"
    assert "'" in findings[0].fix  # the fix quotes the id


def test_a_not_equal_with_a_number_excludes_nobody(tmp_path: Path) -> None:
    condition = "assertion.repository_owner_id == '1342004' && assertion.actor_id != 41898282"
    findings = lint_doc(tmp_path, topology(attributeCondition=condition))
    assert ids(findings) == ["WIF003"]
    assert "always true" in findings[0].message
    assert findings[0].fix == "quote the id: assertion.actor_id != '41898282'"


@pytest.mark.parametrize(
    "condition",
    [
        "assertion.repository_owner_id == '1342004'",
        "assertion.repository_owner_id in ['1342004', '7']",
        "attribute.repository_id == '456789' && assertion.repository_owner_id == '1342004'",
    ],
)
def test_an_id_compared_with_a_string_is_fine(tmp_path: Path, condition: str) -> None:
    assert lint_doc(tmp_path, topology(attributeCondition=condition)) == []


def test_a_claim_the_token_carries_as_a_number_may_be_compared_with_one(tmp_path: Path) -> None:
    # GitLab's runner_id is an int in the token; GitHub's run_number is the string "42".
    gitlab = {"issuerUri": "https://gitlab.com"}
    short = {"google.subject": "assertion.project_id", "attribute.repository_id": "assertion.aud"}
    as_int = "assertion.namespace_id == '42' && assertion.runner_id == 12270837"
    doc = topology(oidc=gitlab, attributeMapping=short, attributeCondition=as_int)
    assert lint_doc(tmp_path, doc) == []
    run_number = "assertion.repository_owner_id == '1342004' && assertion.run_number == 42"
    assert ids(lint_doc(tmp_path, topology(attributeCondition=run_number))) == ["WIF003"]


# WIF004: prefixes without a delimiter.
def test_a_prefix_without_a_slash_warns(tmp_path: Path) -> None:
    gitlab = {"issuerUri": "https://gitlab.com"}
    condition = "assertion.namespace_id == '42' && assertion.project_path.startsWith('group')"
    short = {"google.subject": "assertion.project_id", "attribute.repository_id": "assertion.aud"}
    findings = lint_doc(
        tmp_path, topology(oidc=gitlab, attributeMapping=short, attributeCondition=condition)
    )
    assert ids(findings) == ["WIF004"]
    assert "group-evil/" in findings[0].message


def test_a_prefix_ending_in_a_slash_does_not_warn(tmp_path: Path) -> None:
    gitlab = {"issuerUri": "https://gitlab.com"}
    condition = "assertion.namespace_id == '42' && assertion.project_path.startsWith('group/')"
    short = {"google.subject": "assertion.project_id", "attribute.repository_id": "assertion.aud"}
    doc = topology(oidc=gitlab, attributeMapping=short, attributeCondition=condition)
    assert lint_doc(tmp_path, doc) == []


# WIF005: attributes used but never mapped (or in the wrong case).
def test_a_principal_set_on_an_unmapped_attribute_is_an_error(tmp_path: Path) -> None:
    binding = {"role": WIU, "members": [f"{POOL}/attribute.workflow/deploy"]}
    findings = lint_doc(tmp_path, topology(binding=binding))
    assert ids(findings) == ["WIF005"]
    assert "never matches" in findings[0].message


def test_a_principal_set_on_a_mapped_attribute_is_fine(tmp_path: Path) -> None:
    binding = {"role": WIU, "members": [f"{POOL}/attribute.repository_owner_id/1342004"]}
    assert lint_doc(tmp_path, topology(binding=binding)) == []


def test_an_attribute_in_the_wrong_case_says_so(tmp_path: Path) -> None:
    binding = {"role": WIU, "members": [f"{POOL}/attribute.Repository_id/456789"]}
    findings = lint_doc(tmp_path, topology(binding=binding))
    assert ids(findings) == ["WIF005"]
    assert "case-sensitive" in findings[0].message
    assert findings[0].fix == "write attribute.repository_id"


def test_a_wrong_case_attribute_in_an_unknown_pool_is_still_reported(tmp_path: Path) -> None:
    member = f"{POOL}2/attribute.Repository_id/456789"  # pool gh-pool2 does not exist
    findings = lint_doc(tmp_path, topology(binding={"role": WIU, "members": [member]}))
    assert ids(findings) == ["WIF007"]
    assert "[a-z0-9_]" in findings[0].message


def test_a_condition_on_an_unmapped_attribute_is_an_error(tmp_path: Path) -> None:
    condition = "assertion.repository_owner_id == '1342004' && attribute.environment == 'prod'"
    assert ids(lint_doc(tmp_path, topology(attributeCondition=condition))) == ["WIF005"]
    mapped = "assertion.repository_owner_id == '1342004' && attribute.repository_id == '456789'"
    assert lint_doc(tmp_path, topology(attributeCondition=mapped)) == []


# WIF006: the preset's longest realistic subject over 127 bytes.
def test_googles_github_template_subject_can_exceed_127_bytes(tmp_path: Path) -> None:
    # Google's template maps google.subject=assertion.sub; a long branch or environment name
    # takes GitHub's sub over the limit (google-github-actions/auth #124).
    template = {
        "google.subject": "assertion.sub",
        "attribute.repository_id": "assertion.repository_id",
    }
    findings = lint_doc(tmp_path, topology(attributeMapping=template))
    assert ids(findings) == ["WIF006"]
    assert "(limit 127)" in findings[0].message
    assert "exceeds the 127 bytes limit" in findings[0].why


def test_the_topologys_own_preset_params_shape_the_longest_subject(tmp_path: Path) -> None:
    # idp.presets names the user's own (short) repository: its longest branch still fits.
    template = {
        "google.subject": "assertion.sub",
        "attribute.repository_id": "assertion.repository_id",
    }
    doc = topology(attributeMapping=template)
    doc["idp"] = {"presets": {"github": {"repository": "acme/app"}}}
    assert lint_doc(tmp_path, doc) == []
    doc["idp"]["presets"]["github"]["repository"] = "acme/" + "payments-infrastructure-" * 3
    assert ids(lint_doc(tmp_path, doc)) == ["WIF006"]


def test_a_github_subject_cut_to_its_ids_does_not_warn(tmp_path: Path) -> None:
    assert lint_doc(tmp_path, topology()) == []  # google.subject from repository_id and run_id


def test_terraform_sub_warns_its_workspace_id_does_not(tmp_path: Path) -> None:
    def terraform(subject: str) -> dict[str, object]:
        return topology(
            oidc={"issuerUri": "https://app.terraform.io"},
            attributeMapping={"google.subject": subject},
            attributeCondition="assertion.terraform_organization_id == 'org-1'",
            binding={"role": WIU, "members": [SUBJECT]},
        )

    assert ids(lint_doc(tmp_path, terraform("assertion.sub"))) == ["WIF006"]
    assert lint_doc(tmp_path, terraform("assertion.terraform_workspace_id")) == []


def test_azure_devops_sub_warns_its_object_id_does_not(tmp_path: Path) -> None:
    # Google's own fix, assertion.sub.split('/sc/')[1], does not compile in the stand-in's CEL
    # yet (no split()): lint then reports the mapping as invalid input (WIF000).
    def devops(subject: str) -> dict[str, object]:
        return topology(
            oidc={
                "issuerUri": "https://vstoken.dev.azure.com/0a1b2c3d-1111-2222-3333-444455556666"
            },
            attributeMapping={"google.subject": subject},
            attributeCondition="assertion.oid == 'APPLICATION_OBJECT_ID'",
            binding={"role": WIU, "members": [SUBJECT]},
        )

    assert ids(lint_doc(tmp_path, devops("assertion.sub"))) == ["WIF006"]
    assert lint_doc(tmp_path, devops("assertion.oid")) == []


# WIF007 / WIF008 / WIF009: principal strings.
def test_a_principal_without_locations_global_is_malformed(tmp_path: Path) -> None:
    broken = SUBJECT.replace("/locations/global", "")
    findings = lint_doc(tmp_path, topology(binding={"role": WIU, "members": [broken]}))
    assert ids(findings) == ["WIF007"]
    assert lint_doc(tmp_path, topology(binding={"role": WIU, "members": [SUBJECT]})) == []


def test_a_principal_with_the_project_id_is_an_error(tmp_path: Path) -> None:
    by_id = SUBJECT.replace("123456789012", "demo-project")
    findings = lint_doc(tmp_path, topology(binding={"role": WIU, "members": [by_id]}))
    assert ids(findings) == ["WIF008"]
    assert "projects/123456789012/" in findings[0].fix


def test_a_principal_naming_another_pool_is_an_error(tmp_path: Path) -> None:
    other = SUBJECT.replace("gh-pool", "gh-pool2")
    findings = lint_doc(tmp_path, topology(binding={"role": WIU, "members": [other]}))
    assert ids(findings) == ["WIF009"]
    assert "gh-pool2" in findings[0].message


def test_a_principal_naming_another_project_number_is_an_error(tmp_path: Path) -> None:
    other = SUBJECT.replace("123456789012", "999999999999")
    assert ids(lint_doc(tmp_path, topology(binding={"role": WIU, "members": [other]}))) == [
        "WIF009"
    ]


# WIF010 / WIF011: Token Creator vs Workload Identity User.
def test_token_creator_for_a_federated_principal_is_a_note(tmp_path: Path) -> None:
    findings = lint_doc(tmp_path, topology(binding={"role": TOKEN_CREATOR, "members": [SUBJECT]}))
    assert ids(findings) == ["WIF010"]
    assert findings[0].level == "note"
    assert lint_doc(tmp_path, topology(binding={"role": WIU, "members": [SUBJECT]})) == []


def test_workload_identity_user_for_a_service_account_warns(tmp_path: Path) -> None:
    member = "serviceAccount:ci@demo-project.iam.gserviceaccount.com"
    findings = lint_doc(tmp_path, topology(binding={"role": WIU, "members": [member]}))
    assert ids(findings) == ["WIF011"]
    assert (
        "Permission 'iam.serviceAccounts.signBlob' denied on resource (or it may not exist)."
        in findings[0].why
    )
    assert lint_doc(tmp_path, topology(binding={"role": TOKEN_CREATOR, "members": [member]})) == []


def test_workload_identity_user_for_a_gke_workload_is_fine(tmp_path: Path) -> None:
    member = "serviceAccount:demo-project.svc.id.goog[prod/deployer]"
    assert lint_doc(tmp_path, topology(binding={"role": WIU, "members": [member]})) == []


def test_a_group_principal_set_without_a_groups_mapping_is_an_error(tmp_path: Path) -> None:
    binding = {"role": WIU, "members": [f"{POOL}/group/deployers"]}
    findings = lint_doc(tmp_path, topology(binding=binding))
    assert ids(findings) == ["WIF005"]
    assert "google.groups" in findings[0].message
    mapping = {
        "google.subject": "assertion.repository_id + ':' + assertion.run_id",
        "google.groups": "[assertion.repository_owner_id]",
    }
    assert lint_doc(tmp_path, topology(attributeMapping=mapping, binding=binding)) == []


# WIF012: GitHub's immutable subject format (the default for new or renamed repositories).
GITHUB_TEMPLATE = {
    "google.subject": "assertion.sub",
    "attribute.repository_id": "assertion.repository_id",
}
OLD_SUB = SUBJECT  # .../subject/repo:acme/app:ref:refs/heads/main
NEW_SUB = SUBJECT.replace("repo:acme/app:", "repo:acme@1342004/app@891234567:")


def test_a_name_based_github_subject_binding_warns(tmp_path: Path) -> None:
    doc = topology(attributeMapping=GITHUB_TEMPLATE, binding={"role": WIU, "members": [OLD_SUB]})
    findings = [f for f in lint_doc(tmp_path, doc) if f.id != "WIF006"]
    assert ids(findings) == ["WIF012"]
    assert "2026-07-15" in findings[0].message


def test_the_immutable_github_subject_binding_does_not_warn(tmp_path: Path) -> None:
    doc = topology(attributeMapping=GITHUB_TEMPLATE, binding={"role": WIU, "members": [NEW_SUB]})
    assert [f for f in lint_doc(tmp_path, doc) if f.id != "WIF006"] == []


# WIF013: allowed audiences that look like a provider's name but are not this one's.
PROVIDER_NAME = (
    "projects/123456789012/locations/global/workloadIdentityPools/gh-pool/providers/github"
)


@pytest.mark.parametrize(
    "audience",
    [
        f"https://iam.googleapis.com/{PROVIDER_NAME}".replace("123456789012", "demo-project"),
        f"//iam.googleapis.com/{PROVIDER_NAME}".removesuffix("/providers/github"),
        f"https://iam.googleapis.com/{PROVIDER_NAME}-old",
    ],
    ids=["project-id", "pool-only", "other-provider"],
)
def test_an_allowed_audience_naming_another_resource_warns(tmp_path: Path, audience: str) -> None:
    oidc = {
        "issuerUri": "https://token.actions.githubusercontent.com",
        "allowedAudiences": [audience],
    }
    findings = lint_doc(tmp_path, topology(oidc=oidc))
    assert ids(findings) == ["WIF013"]
    assert findings[0].resource == "pools[0].providers[0].oidc.allowedAudiences[0]"
    assert "The audience in ID Token [...] does not match the expected audience." in findings[0].why


@pytest.mark.parametrize(
    "audience",
    [
        f"https://iam.googleapis.com/{PROVIDER_NAME}",
        f"//iam.googleapis.com/{PROVIDER_NAME}",
        "https://github.com/acme",
    ],
)
def test_this_providers_name_or_an_own_audience_is_fine(tmp_path: Path, audience: str) -> None:
    oidc = {
        "issuerUri": "https://token.actions.githubusercontent.com",
        "allowedAudiences": [audience],
    }
    assert lint_doc(tmp_path, topology(oidc=oidc)) == []


# WIF000: what the stand-in itself refuses, when no rule says it better.
def test_a_condition_that_does_not_compile_is_reported_with_its_path(tmp_path: Path) -> None:
    findings = lint_doc(tmp_path, topology(attributeCondition="assertion.repository_owner_id == "))
    assert "WIF000" in ids(findings)
    assert findings[0].resource == "pools[0].providers[0].attributeCondition"


def test_the_binding_member_is_not_reported_twice(tmp_path: Path) -> None:
    binding = {"role": WIU, "members": [SUBJECT.replace("123456789012", "demo-project")]}
    assert ids(lint_doc(tmp_path, topology(binding=binding))) == ["WIF008"]


# Bad input: any condition or mapping text (compiling or not) gets findings, never a crash.
_cel_bits = st.sampled_from(
    [
        "assertion.",
        "attribute.",
        "google.subject",
        "repository_owner_id",
        "==",
        "!=",
        " in ",
        "[",
        "]",
        "1342004",
        "'",
        '"',
        "startsWith(",
        ")",
        "&&",
        "||",
        "'group'",
        "\\",
        "'''",
        ".",
    ]
)
_cel_text = st.lists(_cel_bits | st.text(max_size=5), max_size=12).map("".join)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(condition=_cel_text, subject=_cel_text)
def test_any_condition_or_mapping_text_is_linted_without_crashing(
    tmp_path: Path, condition: str, subject: str
) -> None:
    doc = topology(
        attributeCondition=condition or None, attributeMapping={"google.subject": subject or "x"}
    )
    for finding in lint_doc(tmp_path, doc):
        assert finding.message and finding.fix


AWS_POOL = "principalSet://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/aws-pool"


def _aws_topology(mapping: dict[str, str] | None) -> dict:
    provider: dict = {"id": "aws-provider", "aws": {"accountId": "111122223333"}}
    if mapping is not None:
        provider["attributeMapping"] = mapping
    member = f"{AWS_POOL}/attribute.aws_role/arn:aws:sts::111122223333:assumed-role/ec2role"
    return {
        "project": {"id": "demo-project", "number": "123456789012"},
        "pools": [{"id": "aws-pool", "providers": [provider]}],
        "serviceAccounts": [
            {
                "email": "aws-runner@demo-project.iam.gserviceaccount.com",
                "policy": {"bindings": [{"role": WIU, "members": [member]}]},
            }
        ],
    }


def test_an_aws_provider_without_a_mapping_has_googles_default_aws_role(tmp_path: Path) -> None:
    """Google maps attribute.aws_role when an AWS provider leaves attributeMapping out."""
    assert lint_doc(tmp_path, _aws_topology(None)) == []


def test_an_aws_provider_whose_own_mapping_lacks_aws_role_fires(tmp_path: Path) -> None:
    findings = lint_doc(tmp_path, _aws_topology({"google.subject": "assertion.arn"}))
    assert ids(findings) == ["WIF005"]
