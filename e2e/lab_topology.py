"""The local target's topology: the example topology plus what only the negative cases need.

Real Google Cloud runs the example topology as deploy/ creates it; locally the suite adds
providers shaped for refusals (disabled, an erroring condition, explicit audiences, a disabled
pool, an uploaded JWKS whose key the suite holds) and one pool-wide binding. Tests that need
them are marked ``wif_requires`` and skipped on a target that lacks them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from mock_gcp.topology import load_topology, topology_to_dict
from wiflab_core import keys

LAB_POOL = "oidc-pool-run"
NEGATIVE_POOL = "e2e-negative"
OFF_POOL = "e2e-off-pool"
# Issuer of the provider whose verification key is uploaded (oidc.jwksJson): nothing is
# served there; the suite signs that provider's tokens itself with the forge key.
FORGE_ISSUER = "https://forge.wiflab.test"
EXPLICIT_AUDIENCE = "https://e2e.wiflab.test/audience"
POOL_WIDE_ACCOUNT = "e2e-pool-wide"

FORGE_PROVIDER = f"{NEGATIVE_POOL}/forge-jwks"
DISABLED_PROVIDER = f"{NEGATIVE_POOL}/off-provider"
ERRORING_PROVIDER = f"{NEGATIVE_POOL}/erroring-condition"
EXPLICIT_AUDIENCE_PROVIDER = f"{NEGATIVE_POOL}/explicit-audience"
DISABLED_POOL_PROVIDER = f"{OFF_POOL}/any-provider"

_SUBJECT_ONLY = {"google.subject": "assertion.sub"}


def extended_topology(base: Path, forge_key: keys.SigningKey) -> dict[str, Any]:
    topology = load_topology(base)
    doc = topology_to_dict(topology)
    uploaded = json.dumps(keys.render_jwks([forge_key.public_jwk]))
    doc["pools"] += [
        {
            "id": NEGATIVE_POOL,
            "providers": [
                _provider("forge-jwks", oidc={"issuerUri": FORGE_ISSUER, "jwksJson": uploaded}),
                _provider("off-provider", disabled=True),
                # Evaluating a missing claim is an error, not false: the condition errors.
                _provider(
                    "erroring-condition", attributeCondition="assertion.tenant.startsWith('a')"
                ),
                _provider("explicit-audience", oidc={"allowedAudiences": [EXPLICIT_AUDIENCE]}),
            ],
        },
        {"id": OFF_POOL, "disabled": True, "providers": [_provider("any-provider")]},
    ]
    pool = topology.pool_name(LAB_POOL)
    doc["serviceAccounts"].append(
        {
            "email": f"{POOL_WIDE_ACCOUNT}@{topology.project_id}.iam.gserviceaccount.com",
            "policy": {
                "bindings": [
                    {
                        "role": "roles/iam.serviceAccountOpenIdTokenCreator",
                        "members": [f"principalSet://iam.googleapis.com/{pool}/*"],
                    }
                ]
            },
        }
    )
    return doc


def write_extended_topology(base: Path, forge_key: keys.SigningKey, directory: Path) -> Path:
    path = directory / "e2e-topology.yaml"
    path.write_text(yaml.safe_dump(extended_topology(base, forge_key), sort_keys=False))
    return path


def _provider(provider_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": provider_id,
        "attributeMapping": dict(_SUBJECT_ONLY),
        "oidc": {"allowedAudiences": []},
        **fields,
    }
