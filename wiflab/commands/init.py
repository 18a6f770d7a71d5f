"""``wiflab init --preset github --owner-id 1342004``: a topology whose provider has Google's
recommended mapping and condition for that provider (``Preset.template``), the provider's
issuer and a service-account binding example; written to ``--output`` (never over an existing
file) or printed with ``--print``.

A template placeholder without a value is refused, naming its flag (``--owner-id``): a
provider on a shared issuer without its condition would trust every customer of the issuer.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from wiflab.commands.conventions import EXIT_OK
from wiflab.commands.mint import preset_params

_SIMPLE_CLAIM = re.compile(r"assertion\.([A-Za-z_][A-Za-z0-9_]*)")
PRINCIPALS = "//iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/{pool}"


def flag_of(param: str) -> str:
    return "--" + param.replace("_", "-")


def provider_document(
    preset_name: str,
    params: Mapping[str, str],
    *,
    pool: str,
    provider: str,
    project_id: str,
    project_number: str,
    issuer: str | None,
    service_account: str | None,
) -> str:
    """The topology as YAML text, with the template's source as a comment; UsageError for a
    preset without a Google template or a placeholder without a value (naming the flag)."""
    import yaml

    from idp_server.presets import PRESETS, PresetError

    preset = PRESETS.get(preset_name)
    if preset is None:
        raise click.UsageError(f"--preset: {preset_name!r} is not one of {', '.join(PRESETS)}")
    template = preset.template
    if template is None:
        raise click.UsageError(
            f"--preset {preset_name}: Google gives no recommended mapping or condition for "
            f"{preset.title}; write the provider by hand (see identity-providers.md)"
        )
    missing = [p for p in template.placeholders.values() if not params.get(p)]
    if missing:
        flags = ", ".join(flag_of(p) for p in missing)
        raise click.UsageError(
            f"{flags}: Google's condition for {preset.title} needs it "
            f"({', '.join(template.placeholders)}): {template.attribute_condition}"
        )
    try:
        resolved = preset.resolve(**params)
        mapping, condition = template.filled(resolved)
        issuer_uri = issuer or preset.issuer_for(**params)
        sample = preset.claims(issuer=issuer_uri, audience="aud", now=0, **params)
    except PresetError as exc:
        raise click.UsageError(str(exc)) from None
    provider_body: dict[str, Any] = {"id": provider, "attributeMapping": mapping}
    if condition:
        provider_body["attributeCondition"] = condition
    provider_body["oidc"] = {"issuerUri": issuer_uri, "allowedAudiences": []}
    email = service_account or f"{preset_name}-deployer@{project_id}.iam.gserviceaccount.com"
    member = _member(mapping, sample, PRINCIPALS.format(number=project_number, pool=pool))
    document = {
        "project": {"id": project_id, "number": project_number},
        "pools": [{"id": pool, "providers": [provider_body]}],
        "serviceAccounts": [
            {
                "email": email,
                "policy": {
                    "bindings": [{"role": "roles/iam.workloadIdentityUser", "members": [member]}]
                },
            }
        ],
    }
    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=1000)
    header = [
        f"# {preset.title}: Google's recommended provider settings.",
        f"# Source: {template.source}",
    ]
    if preset.shared_issuer:
        header.append(
            f"# {preset.real_issuer} is one issuer for every customer: the condition is what "
            "keeps the others out (Google refuses such a provider without one)."
        )
    header.append(f"# The binding lets {member.split('/', 9)[-1]} impersonate the account.")
    _check(document)
    return "\n".join(header) + "\n" + text


def _check(document: dict[str, Any]) -> None:
    """What is written loads: a bad --pool or --project-number is named as the topology does."""
    from mock_gcp.topology import TopologyError, parse_topology

    try:
        parse_topology(document)
    except TopologyError as exc:
        raise click.UsageError(f"the topology would not load: {exc}") from None


def _member(mapping: Mapping[str, str], sample: Mapping[str, Any], principals: str) -> str:
    """A principalSet on the first attribute mapped straight from a claim, else the subject."""
    for target, expression in mapping.items():
        match = _SIMPLE_CLAIM.fullmatch(expression)
        if target.startswith("attribute.") and match and isinstance(sample.get(match[1]), str):
            return f"principalSet:{principals}/{target}/{sample[match[1]]}"
    subject = mapping.get("google.subject", "")
    match = _SIMPLE_CLAIM.fullmatch(subject)
    value = sample.get(match[1]) if match else sample.get("sub")
    return f"principal:{principals}/subject/{value}"


def _params(pairs: tuple[str, ...], named: Mapping[str, str | None]) -> dict[str, str]:
    return {**{k: v for k, v in named.items() if v}, **preset_params(pairs)}


@click.command("init")
@click.option("--preset", "preset_name", required=True, help="github, gitlab, terraform, ...")
@click.option("--owner-id", help="github: the owner's numeric id (OWNER_ID)")
@click.option("--namespace-id", help="gitlab: the group's numeric id (GROUP_ID)")
@click.option("--organization-id", help="terraform: the organization's id (ORGANIZATION_ID)")
@click.option("--tenant-id", help="azure: the Entra tenant id (TENANT_ID)")
@click.option("--object-id", help="azure-devops: the app's object id (APPLICATION_OBJECT_ID)")
@click.option("--param", "pairs", multiple=True, metavar="NAME=VALUE", help="any preset param")
@click.option("--pool", default=None, help="the pool id (default: PRESET-pool)")
@click.option("--provider", default=None, help="the provider id (default: PRESET)")
@click.option("--project-id", default="demo-project", show_default=True)
@click.option("--project-number", default="123456789012", show_default=True)
@click.option("--issuer", help="oidc.issuerUri (default: the provider's real issuer)")
@click.option("--service-account", help="the account the binding is on")
@click.option("--output", type=click.Path(path_type=Path), help="the file to write")
@click.option("--print", "print_only", is_flag=True, help="print the topology instead")
def init(
    preset_name: str,
    owner_id: str | None,
    namespace_id: str | None,
    organization_id: str | None,
    tenant_id: str | None,
    object_id: str | None,
    pairs: tuple[str, ...],
    pool: str | None,
    provider: str | None,
    project_id: str,
    project_number: str,
    issuer: str | None,
    service_account: str | None,
    output: Path | None,
    print_only: bool,
) -> int:
    named = {
        "owner_id": owner_id,
        "namespace_id": namespace_id,
        "organization_id": organization_id,
        "tenant_id": tenant_id,
        "object_id": object_id,
    }
    text = provider_document(
        preset_name,
        _params(pairs, named),
        pool=pool or f"{preset_name}-pool",
        provider=provider or preset_name,
        project_id=project_id,
        project_number=project_number,
        issuer=issuer,
        service_account=service_account,
    )
    if print_only:
        sys.stdout.write(text)
        return EXIT_OK
    target = output or Path(f"wif-{preset_name}.yaml")
    if target.exists():
        raise click.UsageError(f"--output: {target} exists; wiflab init never overwrites a file")
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}: wiflab up --topology {target}")
    return EXIT_OK
