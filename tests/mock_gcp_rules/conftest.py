"""Shared documents for the rules tests: a small valid topology and the example wif.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mock_gcp.topology import Topology, load_topology

REPO = Path(__file__).resolve().parents[2]
WIF_YAML = REPO / "wif.yaml"
NUMBER = "123456789012"
POOL_NAME = f"projects/{NUMBER}/locations/global/workloadIdentityPools/pool-a"
ALICE = f"principal://iam.googleapis.com/{POOL_NAME}/subject/alice"
SA_ONE = "sa-one@demo-project.iam.gserviceaccount.com"


def minimal_doc() -> dict[str, Any]:
    """A valid topology touching every section, to be broken one rule at a time."""
    return {
        "project": {"id": "demo-project", "number": NUMBER},
        "pools": [
            {
                "id": "pool-a",
                "providers": [
                    {
                        "id": "prov-a",
                        "attributeMapping": {"google.subject": "assertion.sub"},
                        "oidc": {},
                    },
                    {
                        "id": "prov-b",
                        "attributeMapping": {"google.subject": "assertion.sub"},
                        "attributeCondition": "assertion.sub != ''",
                        "oidc": {"allowedAudiences": ["aud"]},
                    },
                ],
            }
        ],
        "serviceAccounts": [
            {
                "email": SA_ONE,
                "policy": {
                    "bindings": [{"role": "roles/iam.workloadIdentityUser", "members": [ALICE]}]
                },
            }
        ],
        "services": [
            {
                "name": "svc",
                "app": "protected_app",
                "policy": {
                    "bindings": [
                        {"role": "roles/run.invoker", "members": [f"serviceAccount:{SA_ONE}"]}
                    ]
                },
            }
        ],
        "policy": {"bindings": []},
        "idp": {"profiles": {"alice": {"sub": "alice"}}},
    }


@pytest.fixture(scope="session")
def wif() -> Topology:
    return load_topology(WIF_YAML)
