"""Building topologies and inventories for the lint tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from wiflab_lab.lint import Finding, lint, load_inventory
from wiflab_lab.lint.providers import KnownProvider, known_providers

POOL = "principalSet://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/gh-pool"
SUBJECT = (
    "principal://iam.googleapis.com/projects/123456789012/locations/global/"
    "workloadIdentityPools/gh-pool/subject/repo:acme/app:ref:refs/heads/main"
)
SA = "deployer@demo-project.iam.gserviceaccount.com"

BASE: dict[str, Any] = {
    "project": {"id": "demo-project", "number": "123456789012"},
    "pools": [
        {
            "id": "gh-pool",
            "providers": [
                {
                    "id": "github",
                    "oidc": {"issuerUri": "https://token.actions.githubusercontent.com"},
                    "attributeMapping": {
                        # Not Google's assertion.sub: GitHub's longest subjects exceed 127 bytes.
                        "google.subject": "assertion.repository_id + ':' + assertion.run_id",
                        "attribute.repository_id": "assertion.repository_id",
                        "attribute.repository_owner_id": "assertion.repository_owner_id",
                    },
                    "attributeCondition": "assertion.repository_owner_id == '1342004'",
                }
            ],
        }
    ],
    "serviceAccounts": [
        {
            "email": SA,
            "policy": {
                "bindings": [
                    {
                        "role": "roles/iam.workloadIdentityUser",
                        "members": [f"{POOL}/attribute.repository_id/456789"],
                    }
                ]
            },
        }
    ],
}


def known() -> tuple[KnownProvider, ...]:
    """The IdP presets' knowledge (what `wiflab lint` itself uses)."""
    return known_providers()


def topology(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    provider = doc["pools"][0]["providers"][0]
    for key, value in changes.items():
        if key == "binding":
            doc["serviceAccounts"][0]["policy"]["bindings"] = [value]
        elif value is None:
            provider.pop(key, None)
        else:
            provider[key] = value
    return doc


def lint_doc(tmp_path: Path, doc: Any, name: str = "wif.yaml") -> list[Finding]:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False) if name.endswith(".yaml") else doc)
    return lint(load_inventory(path), known())


def ids(findings: list[Finding]) -> list[str]:
    return [f.id for f in findings]
