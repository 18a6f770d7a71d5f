"""Reading topology documents (YAML, or data already loaded) and writing them back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from mock_gcp.iam import Policy
from mock_gcp.topology.document import Topology
from mock_gcp.topology.errors import ROOT, TopologyError, from_validation
from mock_gcp.topology.resources import LIFETIME_EXTENSION, OidcConfig, Pool, Provider

_TOPOLOGY = TypeAdapter(Topology)


def parse_topology(doc: Any) -> Topology:
    """A validated, immutable Topology from the YAML-loaded document."""
    try:
        # The document's keys are the REST names; Python names are for code only.
        return _TOPOLOGY.validate_python(doc, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise from_validation(exc, Topology) from None
    except RecursionError:
        raise TopologyError(ROOT, "nested too deeply (or refers to itself)") from None


class _StrictLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice (PyYAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key if isinstance(key, str) else id(key_node))
        return super().construct_mapping(node, deep=deep)


def load_topology(path: str | Path) -> Topology:
    """Read, parse and validate a topology file; errors name the file or the path inside it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TopologyError(str(path), f"cannot read: {exc}") from None
    try:
        doc = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: builds plain data only
    except yaml.YAMLError as exc:
        raise TopologyError(str(path), f"not valid YAML: {exc}") from None
    return parse_topology(doc)


def topology_to_dict(t: Topology) -> dict[str, Any]:
    """The YAML / REST shape again: ``parse_topology(topology_to_dict(t)) == t``."""
    doc: dict[str, Any] = {
        "project": {"id": t.project_id, "number": t.project_number},
        "pools": [_pool_to_dict(p) for p in t.pools],
        "serviceAccounts": [
            {
                "email": sa.email,
                "uniqueId": sa.unique_id,
                "disabled": sa.disabled,
                "policy": _policy_to_dict(sa.policy),
            }
            for sa in t.service_accounts
        ],
        "services": [
            {
                "name": s.name,
                "app": s.app,
                "allowUnauthenticated": s.allow_unauthenticated,
                "customAudiences": list(s.custom_audiences),
                "policy": _policy_to_dict(s.policy),
            }
            for s in t.services
        ],
        "policy": _policy_to_dict(t.policy),
        "idp": {"profiles": t.idp.plain()},
    }
    if t.idp.presets:
        doc["idp"]["presets"] = t.idp.preset_params()
    if t.org_policy.lifetime_extension:
        doc["orgPolicy"] = {LIFETIME_EXTENSION: list(t.org_policy.lifetime_extension)}
    if t.local.metadata_service_account is not None:
        doc["local"] = {"metadataServiceAccount": t.local.metadata_service_account}
    if t.local.aws.identities:
        doc.setdefault("local", {})["aws"] = {
            "identities": [{"arn": i.arn, "imds": i.imds} for i in t.local.aws.identities]
        }
    return doc


def _pool_to_dict(pool: Pool) -> dict[str, Any]:
    return {
        "id": pool.id,
        "disabled": pool.disabled,
        "providers": [_provider_to_dict(p) for p in pool.providers],
    }


def _provider_to_dict(provider: Provider) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": provider.provider_id,
        "disabled": provider.disabled,
        "attributeMapping": dict(provider.attribute_mapping.source),
    }
    if provider.aws is not None:
        doc["aws"] = {"accountId": provider.aws.account_id}
    if provider.oidc is not None:
        doc["oidc"] = _oidc_to_dict(provider.oidc)
    if provider.attribute_condition is not None:
        doc["attributeCondition"] = provider.attribute_condition.source
    if provider.display_name is not None:
        doc["displayName"] = provider.display_name
    if provider.description is not None:
        doc["description"] = provider.description
    return doc


def _oidc_to_dict(oidc: OidcConfig) -> dict[str, Any]:
    doc: dict[str, Any] = {"allowedAudiences": list(oidc.allowed_audiences)}
    if oidc.issuer_uri is not None:
        doc["issuerUri"] = oidc.issuer_uri
    if oidc.jwks_json is not None:
        doc["jwksJson"] = oidc.jwks_json
    if oidc.discovery_uri is not None:
        doc["discoveryUri"] = oidc.discovery_uri
    return doc


def _policy_to_dict(policy: Policy) -> dict[str, Any]:
    return {"bindings": [{"role": b.role, "members": list(b.members)} for b in policy.bindings]}
