"""Attacks from the same issuer: wif.yaml's providers stop every one; a weak condition does not,
and the report names the check that let the attacker in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mock_gcp.topology import Topology, load_topology, parse_topology, topology_to_dict
from wiflab.cli import main
from wiflab_lab.attacks import run_attacks
from wiflab_lab.testing import assert_attacks_refused, example_topology

NOW = 1_800_000_000.0
# Google's text for a token the condition refuses (reference, failure mode 2).
REJECTED = "The given credential is rejected by the attribute condition."


@pytest.fixture(scope="module")
def example() -> Topology:
    return load_topology(example_topology())


def with_condition(topology: Topology, provider_id: str, condition: str | None) -> Topology:
    doc = topology_to_dict(topology)
    for pool in doc["pools"]:
        for provider in pool["providers"]:
            if provider["id"] == provider_id:
                if condition is None:
                    provider.pop("attributeCondition", None)
                else:
                    provider["attributeCondition"] = condition
    return parse_topology(doc)


def test_every_attack_is_stopped_by_the_example_providers(example: Topology) -> None:
    results = assert_attacks_refused(example, at=NOW)
    attacked = {(r.preset, r.attack) for r in results}
    # github, gitlab and kubernetes: each preset's every attack was tried.
    assert {
        ("github", "similar_owner"),
        ("github", "fork_pull_request"),
        ("github", "other_branch"),
        ("github", "other_environment"),
        ("gitlab", "similar_namespace"),
        ("gitlab", "unprotected_ref"),
        ("gitlab", "forked_merge_request"),
        ("kubernetes", "other_namespace"),
        ("kubernetes", "other_cluster"),
        ("kubernetes", "legacy_token"),
    } <= attacked
    # The victims' own tokens pass: the refusals are the conditions' doing, not a misfit.
    assert all(r.victim_allowed for r in results)
    for result in results:
        refusal = result.decision.refusal
        assert refusal is not None
        if result.attack not in ("other_cluster", "legacy_token"):
            assert (refusal.status, refusal.code, refusal.text) == (
                400,
                "unauthorized_client",
                REJECTED,
            )


def test_a_prefix_condition_lets_the_similar_owner_in_and_names_the_check(
    example: Topology,
) -> None:
    weak = with_condition(example, "github", "assertion.repository_owner.startsWith('acme')")
    results = {r.attack: r for r in run_attacks(weak, "github", clock=lambda: NOW)}
    similar = results["similar_owner"]
    assert similar.got_through
    assert similar.claims["repository_owner"] == "acme-evil"
    deciding = similar.deciding
    assert [c.name for c in deciding] == ["condition"]
    assert deciding[0].expected == "assertion.repository_owner.startsWith('acme')"
    with pytest.raises(AssertionError) as raised:
        assert_attacks_refused(weak, "github", at=NOW)
    text = str(raised.value)
    assert "GOT THROUGH  github-pool/github  github/similar_owner" in text
    assert "condition passed: assertion.repository_owner.startsWith('acme')" in text
    assert "'assertion.repository_owner': 'acme-evil'" in text


def test_a_name_condition_lets_a_reused_name_in(example: Topology) -> None:
    """Conditions on names, not ids: the owner's name under another id gets through."""
    weak = with_condition(example, "github", "assertion.repository_owner == 'acme'")
    results = {r.attack: r for r in run_attacks(weak, "github", clock=lambda: NOW)}
    assert results["reused_owner_name"].got_through
    assert not results["similar_owner"].got_through


def test_an_id_compared_as_a_number_refuses_the_victim_too(example: Topology) -> None:
    """Ids are strings in the tokens: == 1342004 matches nobody, and the report says so."""
    numeric = with_condition(example, "github", "assertion.repository_owner_id == 1342004")
    results = run_attacks(numeric, "github", clock=lambda: NOW)
    assert results and not any(r.got_through for r in results)
    assert not any(r.victim_allowed for r in results)


def test_gitlab_prefix_without_slash_admits_lookalike_groups(example: Topology) -> None:
    weak = with_condition(example, "gitlab", "assertion.project_path.startsWith('acme')")
    results = {r.attack: r for r in run_attacks(weak, "gitlab", clock=lambda: NOW)}
    assert results["similar_namespace"].got_through
    assert results["subgroup_lookalike"].got_through
    fixed = with_condition(example, "gitlab", "assertion.project_path.startsWith('acme/')")
    fixed_results = {r.attack: r for r in run_attacks(fixed, "gitlab", clock=lambda: NOW)}
    assert not fixed_results["similar_namespace"].got_through
    assert not fixed_results["subgroup_lookalike"].got_through


def test_googles_kubernetes_template_alone_admits_other_namespaces(example: Topology) -> None:
    template = with_condition(example, "prod-cluster", None)
    results = {r.attack: r for r in run_attacks(template, "kubernetes", clock=lambda: NOW)}
    assert results["other_namespace"].got_through
    # With no condition, the report says so.
    (deciding,) = results["other_namespace"].deciding
    assert deciding.name == "condition" and deciding.detail.startswith("none set")
    assert not results["other_cluster"].got_through
    assert not results["legacy_token"].got_through


def test_providers_on_templated_issuers_are_found(example: Topology) -> None:
    doc = topology_to_dict(example)
    gke = "https://container.googleapis.com/v1/projects/p1/locations/europe-west1/clusters/c1"
    doc["pools"].append(
        {
            "id": "gke-pool",
            "providers": [
                {
                    "id": "cluster-c1",
                    "attributeMapping": {"google.subject": "assertion.sub"},
                    "oidc": {"issuerUri": gke},
                }
            ],
        }
    )
    results = run_attacks(parse_topology(doc), "gke", clock=lambda: NOW)
    by_attack = {r.attack: r for r in results}
    assert by_attack["other_cluster"].claims["iss"].endswith("/clusters/c1-2")
    assert not by_attack["other_cluster"].got_through
    assert by_attack["other_namespace"].got_through  # no condition: the namespace is open


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["attack", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_command_exit_status_and_json(
    example: Topology, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run_cli(capsys, "--topology", str(example_topology()))
    assert status == 0
    assert "0 of 13 attacks got through" in out
    weak = with_condition(example, "github", "assertion.repository_owner.startsWith('acme')")
    path = tmp_path / "weak.yaml"
    import yaml

    path.write_text(yaml.safe_dump(topology_to_dict(weak)))
    status, out, _ = run_cli(capsys, "--topology", str(path), "--preset", "github", "--json")
    assert status == 1
    body = json.loads(out)
    similar = next(r for r in body if r["attack"] == "similar_owner")
    assert similar["outcome"] == "got through"
    assert similar["deciding"][0]["name"] == "condition"
    status, _, err = run_cli(capsys, "--preset", "jenkins")
    assert status == 2 and "'jenkins' is not one of github" in err
