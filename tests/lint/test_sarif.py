"""SARIF 2.1.0 output: valid against the official schema (what GitHub code scanning accepts),
every rule described with its source, every result on its input file and line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.lint import sarif_schema
from tests.lint.helpers import POOL, SA, SUBJECT, known, topology
from wiflab.cli import main
from wiflab_lab.lint import Inventory, lint, load_inventory, report
from wiflab_lab.lint.rules import ALL_RULES

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def schema() -> dict[str, object]:
    try:
        return sarif_schema.schema()
    except sarif_schema.Missing as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))


def every_rule_firing(tmp_path: Path) -> list[Path]:
    """Inputs that between them fire every rule."""
    doc = topology(
        attributeCondition="assertion.repository_owner == 1342004 || attribute.Env == 'x' "
        "|| assertion.ref.startsWith('refs/heads/rel')",
        attributeMapping={
            "google.subject": "assertion.sub",
            "attribute.env": "assertion.environment",
        },
    )
    doc["serviceAccounts"][0]["policy"]["bindings"] = [
        {"role": "roles/iam.serviceAccountTokenCreator", "members": [SUBJECT]},
        {
            "role": "roles/iam.workloadIdentityUser",
            "members": [
                f"serviceAccount:{SA}",
                SUBJECT.replace("123456789012", "demo-project"),
                SUBJECT.replace("/locations/global", ""),
                SUBJECT.replace("gh-pool", "no-pool"),
                f"{POOL}/attribute.team/platform",
            ],
        },
    ]
    doc["pools"][0]["providers"][0]["oidc"]["allowedAudiences"] = [
        "https://iam.googleapis.com/projects/demo-project/locations/global/workloadIdentityPools/gh-pool"
    ]
    gitlab = topology(oidc={"issuerUri": "https://gitlab.com"}, attributeCondition=None)
    gitlab["pools"][0]["providers"][0]["displayName"] = "x" * 40  # WIF000: over 32
    paths = [tmp_path / "wif.yaml", tmp_path / "gitlab.yaml"]
    paths[0].write_text(yaml.safe_dump(doc, sort_keys=False))
    paths[1].write_text(yaml.safe_dump(gitlab, sort_keys=False))
    return paths


def test_sarif_validates_and_covers_every_rule(
    tmp_path: Path, schema: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # code scanning resolves artifact URIs from the checkout
    paths = every_rule_firing(tmp_path)
    inventory = sum((load_inventory(p) for p in paths), Inventory())
    findings = lint(inventory, known())
    assert {f.id for f in findings} == {r.id for r in ALL_RULES}
    doc = json.loads(report(findings, "sarif"))
    jsonschema.Draft4Validator(schema).validate(doc)
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in ALL_RULES]
    for rule in rules:
        assert rule["helpUri"].startswith("https://")
        assert rule["fullDescription"]["text"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] in ("wif.yaml", "gitlab.yaml")
        assert physical["region"]["startLine"] >= 1
        assert location["logicalLocations"][0]["fullyQualifiedName"]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    # The shared-issuer error sits on the gitlab provider's own line.
    gitlab_lines = paths[1].read_text().splitlines()
    line = by_rule["WIF001"]["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert gitlab_lines[line - 1].strip() == "- id: github"
    # A member's finding sits on the member's line.
    wif_lines = paths[0].read_text().splitlines()
    line = by_rule["WIF008"]["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert "projects/demo-project/" in wif_lines[line - 1]


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.iterdir()))
def test_sarif_of_each_fixture_validates(
    fixture: str, tmp_path: Path, schema: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "lint.sarif"
    status = main(["lint", str(FIXTURES / fixture), "--format", "sarif", "--output", str(out)])
    assert status in (0, 1)
    doc = json.loads(out.read_text())
    jsonschema.Draft4Validator(schema).validate(doc)
    assert doc["runs"][0]["results"]


def test_an_invalid_sarif_is_refused_by_the_schema(schema: dict[str, object]) -> None:
    # The schema check can fail: a result without its message is not SARIF.
    doc = json.loads(report([], "sarif"))
    doc["runs"][0]["results"] = [{"ruleId": "WIF001", "level": "fatal"}]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(doc)
