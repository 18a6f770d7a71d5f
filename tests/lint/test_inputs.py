"""The inputs lint reads besides a topology: gcloud's provider and IAM-policy JSON and
`terraform show -json` (fixtures in the shapes those tools print), told apart by content."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lint.helpers import known
from tests.mock_gcp.test_fuzz import json_values
from wiflab_lab.lint import InputError, Inventory, lint, load_inventory

FIXTURES = Path(__file__).parent / "fixtures"
POOL = "projects/123456789012/locations/global/workloadIdentityPools"
POLICY = FIXTURES / "ci-deployer@demo-project.iam.gserviceaccount.com.json"
PROVIDER = FIXTURES / "gcloud-provider-github.json"


def found(*paths: Path, resource: str | None = None) -> set[tuple[str, str]]:
    inventory = Inventory()
    for path in paths:
        inventory += load_inventory(path, resource=resource)
    return {(f.id, f.resource) for f in lint(inventory, known())}


def test_one_gcloud_provider() -> None:
    github = f"{POOL}/gh-pool/providers/github"
    assert found(PROVIDER) == {
        ("WIF002", f"{github}.attributeCondition"),  # repository_owner, not its _id
        ("WIF006", f"{github}.attributeMapping['google.subject']"),  # assertion.sub > 127 B
    }


def test_a_list_of_gcloud_providers() -> None:
    assert found(FIXTURES / "gcloud-providers-list.json") == {
        # created before Google enforced it; describe still shows it
        ("WIF001", f"{POOL}/ci-pool/providers/gitlab.attributeCondition"),
        ("WIF006", f"{POOL}/ci-pool/providers/gitlab.attributeMapping['google.subject']"),
        ("WIF003", f"{POOL}/ci-pool/providers/terraform.attributeCondition"),
        # the AWS provider (Google's own startsWith('...assumed-role/')) has nothing to say
    }


def test_an_iam_policy_is_the_policy_of_the_account_its_file_names() -> None:
    sa = "ci-deployer@demo-project.iam.gserviceaccount.com"
    assert found(POLICY) == {
        ("WIF008", f"{sa}/bindings[1].members[0]"),  # projects/demo-project/
        ("WIF010", f"{sa}/bindings[1].members[0]"),  # Token Creator to a principalSet
        ("WIF011", f"{sa}/bindings[2].members[0]"),  # workloadIdentityUser to an SA
    }


def test_the_resource_flag_names_the_policys_account(tmp_path: Path) -> None:
    copy = tmp_path / "policy.json"
    shutil.copy(POLICY, copy)
    inventory = load_inventory(copy, resource="other@demo-project.iam.gserviceaccount.com")
    assert {b.target for b in inventory.bindings} == {"other@demo-project.iam.gserviceaccount.com"}
    assert {b.target for b in load_inventory(copy).bindings} == {"policy.json"}


def test_a_policy_is_checked_against_the_providers_of_another_input() -> None:
    sa = "ci-deployer@demo-project.iam.gserviceaccount.com"
    together = found(POLICY, PROVIDER)
    # attribute.workflow: the github provider maps actor, repository, repository_owner only
    assert ("WIF005", f"{sa}/bindings[0].members[1]") in together
    # attribute.repository is mapped, but from the mutable name
    assert ("WIF002", f"{sa}/bindings[0].members[0]") in together
    assert ("WIF005", f"{sa}/bindings[0].members[0]") not in together


def test_terraform_show_json_root_and_child_modules() -> None:
    provider = "module.gh_oidc.google_iam_workload_identity_pool_provider.main"
    assert found(FIXTURES / "terraform-show.json") == {
        ("WIF003", f"{provider}.attributeCondition"),  # repository_owner_id == 1342004
        ("WIF004", f"{provider}.attributeCondition"),  # startsWith('refs/heads/release')
        ("WIF006", f"{provider}.attributeMapping['google.subject']"),
        # attribute.Repository_id: the mapping says repository_id
        ("WIF005", 'module.gh_oidc.google_service_account_iam_member.wif["deployer"].members[0]'),
        # gh-pools: the pool is gh-pool
        ("WIF009", "google_service_account_iam_binding.token_creator.members[0]"),
        ("WIF010", "google_service_account_iam_binding.token_creator.members[0]"),
    }


def test_a_terraform_plan_is_read_from_planned_values(tmp_path: Path) -> None:
    doc = json.loads((FIXTURES / "terraform-show.json").read_text())
    plan = {"format_version": "1.2", "planned_values": doc["values"], "resource_changes": []}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    assert found(path) == found(FIXTURES / "terraform-show.json")


def test_the_kind_is_told_from_the_content_not_the_name(tmp_path: Path) -> None:
    renamed = tmp_path / "whatever.txt"
    shutil.copy(PROVIDER, renamed)
    assert {i for i, _ in found(renamed)} == {"WIF002", "WIF006"}


def test_lines_point_at_each_resource_in_pretty_printed_json() -> None:
    inventory = load_inventory(FIXTURES / "gcloud-providers-list.json")
    text = (FIXTURES / "gcloud-providers-list.json").read_text().splitlines()
    for p in inventory.providers:
        assert p.where is not None and p.where.line is not None
        # the provider's object opens on its line
        assert text[p.where.line - 1].strip() == "{"
    lines = [p.where.line for p in inventory.providers if p.where]
    assert lines == sorted(lines) and len(set(lines)) == 3


# Bad input: whatever the JSON, lint answers with findings or an InputError, never a crash.
_keys = st.sampled_from(
    [
        "project",
        "pools",
        "providers",
        "policy",
        "bindings",
        "members",
        "role",
        "values",
        "format_version",
        "root_module",
        "resources",
        "child_modules",
        "type",
        "name",
        "oidc",
        "attributeMapping",
        "attributeCondition",
        "serviceAccounts",
        "etag",
        "version",
    ]
)
_shaped = st.recursive(
    st.none()
    | st.integers()
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "google_iam_workload_identity_pool_provider",
            "google_service_account_iam_member",
            f"{POOL}/p-pool/providers/prov",
            "principalSet://iam.googleapis.com/",
            "assertion.sub",
        ]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=6),
    max_leaves=30,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=json_values | _shaped)
def test_any_json_gets_findings_or_a_clear_input_error(tmp_path: Path, doc: object) -> None:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(doc))
    try:
        lint(load_inventory(path), known())
    except InputError as exc:
        assert str(exc).startswith(f"{path}: ")
