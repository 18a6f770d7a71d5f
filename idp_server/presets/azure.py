"""Azure: managed identities' Entra v1 tokens (from the instance metadata service) and Azure
DevOps service connections' workload identity tokens.

A managed identity's token: ``iss`` ``https://sts.windows.net/TENANT_ID/`` (trailing slash),
``sub`` and ``oid`` the identity's object id, ``aud`` the resource asked for, ``ver`` "1.0",
``xms_mirid`` the identity's ARM resource id. Azure DevOps: ``sub``
``/eid1/c/pub/t/TENANT/a/APP/sc/ORG_ID/SERVICE_CONNECTION_ID`` behind a per-organization
issuer; Google's template maps ``assertion.sub.split('/sc/')[1]`` because the whole sub is
often over 127 bytes.
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
    stable_hex,
)
from idp_server.presets.github import DEPLOYMENT_PIPELINES

OTHER_CLOUDS = (
    "https://docs.cloud.google.com/iam/docs/workload-identity-federation-with-other-clouds"
)


def _managed_identity(
    variant: str, p: Mapping[str, str], issuer: str, aud: list[str] | None, now: int
) -> dict[str, Any]:
    identity = p["object_id"]
    name = p["identity_name"]
    if variant == "system_assigned":
        resource = (
            f"/subscriptions/{p['subscription_id']}/resourcegroups/{p['resource_group']}"
            f"/providers/Microsoft.Compute/virtualMachines/{p['vm_name']}"
        )
    else:
        resource = (
            f"/subscriptions/{p['subscription_id']}/resourcegroups/{p['resource_group']}"
            f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
        )
    return {
        "aud": audience_claim(aud),
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + 86399 - 3600,  # unverified: IMDS tokens live about a day; 23 h here
        "aio": "E2ZgYJgW" + stable_hex("aio", identity, length=24),
        "appid": p["client_id"],
        "appidacr": "2",
        "idp": issuer,
        "idtyp": "app",
        "oid": identity,
        "rh": "0.AAAA" + stable_hex("rh", identity, length=32) + ".",
        "sub": identity,
        "tid": p["tenant_id"],
        "uti": stable_hex("uti", identity, str(now), length=22),
        "ver": "1.0",
        "xms_mirid": resource,
        "xms_tcdt": 1289241547,
    }


AZURE = Preset(
    name="azure",
    title="Azure managed identity (Entra ID v1 token)",
    real_issuer="https://sts.windows.net/{tenant_id}/",
    # The resource asked for; an App ID URI of the app registration made for Google.
    default_audience="api://{client_id}",
    params={
        "tenant_id": Param("72f988bf-86f1-41af-91ab-2d7cd011db47", "the Entra tenant id"),
        "object_id": Param("5f3a8e3c-1b2d-4c5e-9f7a-0b1c2d3e4f5a", "the identity's object id"),
        "client_id": Param("9d6c2f2e-3a4b-4c5d-8e9f-a0b1c2d3e4f5", "the identity's client id"),
        "subscription_id": Param("0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", "the subscription"),
        "resource_group": Param("acme-prod", "the resource group"),
        "identity_name": Param("acme-deployer", "the user-assigned identity's name"),
        "vm_name": Param("acme-vm-1", "the VM (system_assigned variant)"),
    },
    variants={
        "user_assigned": "a user-assigned managed identity (xms_mirid names it)",
        "system_assigned": "a VM's system-assigned identity (xms_mirid names the VM)",
    },
    shared_issuer=False,
    id_claims={},
    string_id_claims=frozenset({"oid", "tid", "appid", "sub"}),
    # unverified: Google's exact wording for Azure is not re-verified (identity-providers.md).
    template=Template(
        attribute_mapping={"google.subject": "assertion.sub", "attribute.tid": "assertion.tid"},
        attribute_condition="assertion.tid == '{TENANT_ID}'",
        placeholders={"TENANT_ID": "tenant_id"},
        source=OTHER_CLOUDS,
    ),
    attacks={
        "other_identity": Attack(
            "another managed identity of the same tenant",
            {
                "object_id": "{other_object_id}",
                "client_id": "{other_client_id}",
                "identity_name": "{identity_name}-test",
            },
        ),
        "other_tenant": Attack(
            "an identity of another tenant, asking for the same resource",
            {"object_id": "{other_object_id}", "subscription_id": "{other_subscription_id}"},
            issuer_params={"tenant_id": "{other_tenant_id}"},
        ),
    },
    longest={},
    longest_variant="user_assigned",
    build=_managed_identity,
)


def _devops(
    variant: str, p: Mapping[str, str], issuer: str, aud: list[str] | None, now: int
) -> dict[str, Any]:
    return {
        "jti": stable_hex("jti", p["service_connection_id"], str(now), length=36),
        # unverified: the shape PREFIX/sc/ORG_ID/SERVICE_CONNECTION_ID of the reference (the
        # prefix names the tenant and app), which Google's template splits at '/sc/'.
        "sub": (
            f"/eid1/c/pub/t/{p['tenant_id']}/a/{p['app_id']}"
            f"/sc/{p['organization_id']}/{p['service_connection_id']}"
        ),
        "aud": audience_claim(aud),
        "iss": issuer,
        "nbf": now,
        "exp": now + 600,  # unverified: Azure DevOps' token lifetime is not documented here
        "iat": now,
        "oid": p["object_id"],
    }


AZURE_DEVOPS = Preset(
    name="azure-devops",
    title="Azure DevOps (workload identity service connection)",
    # reported: https://vstoken.dev.azure.com/ORG_ID
    real_issuer="https://vstoken.dev.azure.com/{organization_id}",
    default_audience="fb60f99c-7a34-4190-8149-302f77469936",
    params={
        "organization": Param("acme", "the Azure DevOps organization"),
        "tenant_id": Param("72f988bf-86f1-41af-91ab-2d7cd011db47", "the Entra tenant id"),
        "app_id": Param("499b84ac-1321-427f-aa17-267ca6975798", "the Azure DevOps app id"),
        "organization_id": Param("f66a4bc2-08ad-4ec0-a25e-e769dab3b294", "its id"),
        "service_connection_id": Param("2a8b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "its id"),
        "object_id": Param("8c7d6e5f-4a3b-4c2d-9e1f-0a9b8c7d6e5f", "the app's object id"),
    },
    variants={"service_connection": "a pipeline's token for a service connection"},
    shared_issuer=False,
    id_claims={},
    string_id_claims=frozenset({"oid"}),
    template=Template(
        attribute_mapping={"google.subject": "assertion.sub.split('/sc/')[1]"},
        attribute_condition="assertion.oid == '{APPLICATION_OBJECT_ID}'",
        placeholders={"APPLICATION_OBJECT_ID": "object_id"},
        source=DEPLOYMENT_PIPELINES,
    ),
    attacks={
        "other_service_connection": Attack(
            "another service connection of the organization, with its own app",
            {
                "service_connection_id": "{other_service_connection_id}",
                "object_id": "{other_object_id}",
            },
        ),
    },
    longest={},
    longest_variant="service_connection",
    build=_devops,
)
