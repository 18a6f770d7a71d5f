"""Why Google said yes or no, computed from the topology with the stand-in's own rules.

Nothing here talks HTTP: the attribute mapping and condition come from ``mock_gcp.cel`` and
every IAM decision from ``mock_gcp.iam.find_grant``, over the same policies the stand-in
checks. That works for both targets (real Google sends no explanation), and the local
stand-in's diagnostic headers are only used to cross-check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mock_gcp.cel import ConditionError, MappedAttributes, MappingError
from mock_gcp.iam import Caller, find_grant
from mock_gcp.iamcredentials.methods import account_policies
from mock_gcp.run.front_end import invoke_policies
from mock_gcp.topology import Provider, Service, ServiceAccount, Topology

INVOKE = "run.routes.invoke"
_FEDERATED_PREFIX = re.compile(
    r"^(principal|principalSet)://iam\.googleapis\.com/projects/\d+/locations/global/"
    r"workloadIdentityPools/"
)
_CEL_NAME = re.compile(r"\b(assertion|attribute|google)\.([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Check:
    """One rule Google applied to this request, and how it came out."""

    rule: str
    passed: bool
    text: str
    details: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"rule": self.rule, "passed": self.passed, "text": self.text}
        if self.details:
            body["details"] = list(self.details)
        if self.data:
            body["data"] = dict(self.data)
        return body


@dataclass(frozen=True)
class ExchangeVerdict:
    """What STS makes of a token: the checks, and the caller it vouches for when accepted."""

    checks: tuple[Check, ...]
    caller: Caller | None

    @property
    def accepted(self) -> bool:
        return self.caller is not None


def short_member(member: str) -> str:
    """``principal://…/oidc-pool-run/subject/alice@domain.com``: the pool and what follows."""
    return _FEDERATED_PREFIX.sub(lambda m: f"{m.group(1)}://…/", member)


def token_audience(provider: Provider, sts_audience: str) -> str:
    """The ``aud`` a token needs: a listed allowed audience, else the provider's own name."""
    return provider.oidc.allowed_audiences[0] if provider.oidc.allowed_audiences else sts_audience


def explain_token_audience(provider: Provider) -> Check:
    if provider.oidc.allowed_audiences:
        return Check("audience", True, "aud is listed in the provider's oidc.allowedAudiences")
    return Check(
        "audience", True, "aud is the provider's resource name (oidc.allowedAudiences is empty)"
    )


def explain_exchange(
    topology: Topology, provider: Provider, claims: Mapping[str, Any]
) -> ExchangeVerdict:
    """The provider's attribute mapping and condition over these claims, as STS runs them."""
    try:
        mapped = provider.attribute_mapping.apply(claims)
    except MappingError as exc:
        return ExchangeVerdict((Check("attribute mapping", False, exc.description),), None)
    checks = [_mapping_check(provider, mapped)]
    condition = provider.attribute_condition
    if condition is None:
        checks.append(Check("attribute condition", True, "none set: every valid token passes"))
    else:
        try:
            allowed = condition.allows(claims, mapped)
        except ConditionError:
            allowed = False
        values = _referenced_values(condition.source, claims, mapped)
        checks.append(
            Check(
                "attribute condition",
                allowed,
                f"{condition.source} → {'true' if allowed else 'false'}",
                tuple(f"with {name} = {value}" for name, value in values),
            )
        )
        if not allowed:
            return ExchangeVerdict(tuple(checks), None)
    caller = Caller.federated(topology.pool_name(provider.pool_id), mapped)
    checks.append(_identity_check(caller))
    return ExchangeVerdict(tuple(checks), caller)


def _mapping_check(provider: Provider, mapped: MappedAttributes) -> Check:
    source = provider.attribute_mapping.source
    width = max(len(key) for key in source)
    lines = [
        f"{key:<{width}} = {expression} → {_json(_mapped_value(mapped, key))}"
        for key, expression in source.items()
    ]
    attributes = {name: _mapped_value(mapped, f"attribute.{name}") for name in mapped.attributes}
    data = {"subject": mapped.subject, "groups": list(mapped.groups), "attributes": attributes}
    text = "the token's claims, as Google sees them"
    return Check("attribute mapping", True, text, tuple(lines), data)


def _mapped_value(mapped: MappedAttributes, key: str) -> Any:
    if key == "google.subject":
        return mapped.subject
    if key == "google.groups":
        return list(mapped.groups)
    value = mapped.attributes.get(key.removeprefix("attribute."))
    return value if value is None or isinstance(value, str) else list(value)


def _referenced_values(
    source: str, claims: Mapping[str, Any], mapped: MappedAttributes
) -> list[tuple[str, str]]:
    """Each ``assertion.X`` / ``attribute.X`` / ``google.X`` the condition reads, and its value."""
    scopes: dict[str, Mapping[str, Any]] = {
        "assertion": claims,
        "attribute": {k: _mapped_value(mapped, f"attribute.{k}") for k in mapped.attributes},
        "google": mapped.google(),
    }
    seen: list[tuple[str, str]] = []
    for scope, name in _CEL_NAME.findall(source):
        label = f"{scope}.{name}"
        if any(label == existing for existing, _ in seen):
            continue
        values = scopes[scope]
        seen.append((label, _json(values[name]) if name in values else "(not set)"))
    return seen


def _identity_check(caller: Caller) -> Check:
    others = sorted(m for m in caller.members() if m not in ("allUsers", caller.principal()))
    return Check(
        "identity",
        True,
        "Google now knows the caller as",
        (caller.principal(), "and as a member of", *(f"  {short_member(m)}" for m in others)),
        {"principal": caller.principal(), "members": sorted(caller.members())},
    )


def explain_account_grant(
    topology: Topology, caller: Caller, account: ServiceAccount, permission: str
) -> Check:
    grant = find_grant(caller, permission, account_policies(topology, account))
    if grant is None:
        return Check(
            "IAM binding",
            False,
            f"no binding on serviceAccount {account.email} grants {permission} to the caller",
            (
                "the caller is any of:",
                *(f"  {short_member(m)}" for m in sorted(caller.members()) if m != "allUsers"),
            ),
        )
    return _granted(grant.role, grant.resource, grant.member, permission)


def explain_invoke(topology: Topology, service: Service, account_email: str) -> Check:
    if service.allow_unauthenticated:
        return Check("IAM binding", True, "the service allows unauthenticated calls")
    caller = Caller("serviceAccount", account_email)
    grant = find_grant(caller, INVOKE, invoke_policies(topology, service))
    if grant is None:
        return Check(
            "IAM binding",
            False,
            f"no binding on service {service.name} grants {INVOKE} to {caller.principal()}",
        )
    return _granted(grant.role, grant.resource, grant.member, INVOKE)


def explain_service_audience(service: Service, service_url: str, aud: Any) -> Check:
    url = service_url.rstrip("/")
    if aud in (url, f"{url}/"):
        return Check("audience", True, "the ID token's aud is the service URL")
    if aud in service.custom_audiences:
        return Check("audience", True, "the ID token's aud is one of the service's customAudiences")
    return Check("audience", False, f"the ID token's aud {aud!r} is not the service URL {url}")


def _granted(role: str, resource: str, member: str, permission: str) -> Check:
    return Check(
        "IAM binding",
        True,
        f"allowed by {role}",
        (f"on {resource}", f"via {short_member(member)}", f"(the role includes {permission})"),
        {"role": role, "resource": resource, "member": member, "permission": permission},
    )


def _json(value: Any) -> str:
    return "(not set)" if value is None else json.dumps(value, ensure_ascii=False)
