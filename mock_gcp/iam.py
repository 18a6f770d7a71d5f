"""IAM as the stand-in needs it: member strings, the roles the flows use, allow policies, and
one decision.

``find_grant`` is the only place that decides access: STS-issued federated identities, service
accounts and users are all turned into a ``Caller`` whose member strings are matched against
allow-policy bindings. ``Policy`` and ``Binding`` validate themselves (known roles, well-formed
members) when the topology is loaded; a refusal is a ``ValueError`` saying why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, PlainValidator, StringConstraints
from pydantic.dataclasses import dataclass as model

from wiflab_core.decisions import Check

if TYPE_CHECKING:
    from mock_gcp.cel import MappedAttributes

_SA = "iam.serviceAccounts"
_RUN_SERVICES = "run.services"
_OBJECTS = "storage.objects"
_VIEWER = frozenset(
    {f"{_SA}.get", f"{_SA}.list", f"{_RUN_SERVICES}.get", f"{_RUN_SERVICES}.list"}
    | {"resourcemanager.projects.get", "storage.buckets.list"}
)
# Basic roles do not include the token permissions (getAccessToken, getOpenIdToken, signBlob,
# signJwt): even a project owner needs Token Creator to impersonate a service account.
_EDITOR = _VIEWER | {
    f"{_SA}.actAs",
    "run.routes.invoke",
    f"{_RUN_SERVICES}.create",
    f"{_RUN_SERVICES}.update",
    f"{_RUN_SERVICES}.delete",
    f"{_OBJECTS}.create",
    f"{_OBJECTS}.delete",
    f"{_OBJECTS}.get",
    f"{_OBJECTS}.list",
    f"{_OBJECTS}.update",
}
_OWNER = _EDITOR | {
    "resourcemanager.projects.setIamPolicy",
    f"{_SA}.setIamPolicy",
    f"{_RUN_SERVICES}.setIamPolicy",
}

# Google's predefined-role reference, trimmed to the permissions the stand-in checks.
PERMISSIONS_BY_ROLE: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "roles/iam.workloadIdentityUser": frozenset(
            {f"{_SA}.get", f"{_SA}.list", f"{_SA}.getAccessToken", f"{_SA}.getOpenIdToken"}
        ),
        "roles/iam.serviceAccountTokenCreator": frozenset(
            {f"{_SA}.get", f"{_SA}.list", f"{_SA}.getAccessToken", f"{_SA}.getOpenIdToken"}
            | {f"{_SA}.signBlob", f"{_SA}.signJwt", f"{_SA}.implicitDelegation"}
        ),
        "roles/iam.serviceAccountOpenIdTokenCreator": frozenset({f"{_SA}.getOpenIdToken"}),
        "roles/iam.serviceAccountUser": frozenset({f"{_SA}.actAs", f"{_SA}.get", f"{_SA}.list"}),
        "roles/run.invoker": frozenset({"run.routes.invoke"}),
        "roles/storage.objectViewer": frozenset({f"{_OBJECTS}.get", f"{_OBJECTS}.list"}),
        "roles/storage.objectAdmin": frozenset(
            {f"{_OBJECTS}.{verb}" for verb in ("create", "delete", "get", "list", "update")}
            | {f"{_OBJECTS}.getIamPolicy", f"{_OBJECTS}.setIamPolicy"}
        ),
        "roles/viewer": _VIEWER,
        "roles/editor": frozenset(_EDITOR),
        "roles/owner": frozenset(_OWNER),
    }
)

IAM_HOST = "//iam.googleapis.com/"
_POOL_NAME = re.compile(r"projects/(\d+)/locations/global/workloadIdentityPools/([a-z0-9-]{4,32})")
EMAIL = re.compile(r"[^@\s:/]+@[^@\s:/]+\.[^@\s:/]+")
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}", re.IGNORECASE)
_ATTRIBUTE_NAME = re.compile(r"[a-z0-9_]{1,100}")
_EMAIL_KINDS = ("user:", "serviceAccount:", "group:")
_FEDERATED_FORMATS = (
    "principal://iam.googleapis.com/projects/PROJECT_NUMBER/locations/global/"
    "workloadIdentityPools/POOL_ID/subject/SUBJECT, or principalSet://iam.googleapis.com/"
    "projects/PROJECT_NUMBER/locations/global/workloadIdentityPools/POOL_ID/ followed by "
    "group/GROUP, attribute.NAME/VALUE or *"
)


def validate_member(member: str) -> str | None:
    """None when ``member`` is a well-formed IAM member string, else why it is not."""
    if not isinstance(member, str):
        return f"a member is a string, not {type(member).__name__}"
    if member in ("allUsers", "allAuthenticatedUsers"):
        return None
    for kind in _EMAIL_KINDS:
        if member.startswith(kind):
            email = member.removeprefix(kind)
            return None if EMAIL.fullmatch(email) else f"{kind} needs an email address"
    if member.startswith("domain:"):
        return None if _DOMAIN.fullmatch(member.removeprefix("domain:")) else "bad domain"
    if member.startswith(("principal://", "principalSet://")):
        return _validate_federated(member)
    return (
        f"unknown member {member!r}: expected allUsers, allAuthenticatedUsers, user:EMAIL, "
        f"serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, {_FEDERATED_FORMATS}"
    )


def _validate_federated(member: str) -> str | None:
    scheme, _, rest = member.partition("://")
    host, _, path = rest.partition("/")
    if host != "iam.googleapis.com" or not path.startswith("projects/"):
        return f"expected {_FEDERATED_FORMATS}"
    match = _POOL_NAME.match(path)
    if match is None:
        project = path.split("/")[1]
        if project and not project.isdigit():
            return f"use the project number, not the project id {project!r}"
        return f"expected {_FEDERATED_FORMATS}"
    tail = path[match.end() :]
    if scheme == "principal":
        ok = tail.startswith("/subject/") and len(tail) > len("/subject/")
        return None if ok else f"expected {_FEDERATED_FORMATS}"
    if tail == "/*":
        return None
    if tail.startswith("/group/") and len(tail) > len("/group/"):
        return None
    if tail.startswith("/attribute."):
        name, slash, value = tail.removeprefix("/attribute.").partition("/")
        if not _ATTRIBUTE_NAME.fullmatch(name):
            return "attribute names may only contain [a-z0-9_] (at most 100 characters)"
        return None if slash and value else "attribute.NAME needs a /VALUE"
    return f"expected {_FEDERATED_FORMATS}"


def _member(value: Any) -> str:
    problem = validate_member(value)
    if problem is not None:
        raise ValueError(problem)
    return str(value)


def _known_role(role: str) -> str:
    if role not in PERMISSIONS_BY_ROLE:
        raise ValueError(
            f"unknown role {role!r}; this lab knows: {', '.join(sorted(PERMISSIONS_BY_ROLE))}"
        )
    return role


def _some_members(members: tuple[str, ...]) -> tuple[str, ...]:
    if not members:
        raise ValueError("a binding needs at least one member")
    return members


_POLICY_FIELDS = ConfigDict(extra="forbid")


@model(frozen=True, config=_POLICY_FIELDS)
class Binding:
    """One allow-policy binding: a role and the members it is granted to (REST field names)."""

    role: Annotated[str, StringConstraints(strict=True, min_length=1), AfterValidator(_known_role)]
    members: Annotated[
        tuple[Annotated[str, PlainValidator(_member)], ...], AfterValidator(_some_members)
    ]


@model(frozen=True, config=_POLICY_FIELDS)
class Policy:
    """An allow policy as the IAM REST API writes it: ``{bindings: [{role, members}]}``."""

    bindings: tuple[Binding, ...] = ()


def canonical_member(member: str) -> str:
    """The form members are compared in: email kinds ignore case, federated ones do not."""
    # unverified: IAM treats email addresses case-insensitively; subjects stay exact.
    for kind in (*_EMAIL_KINDS, "domain:"):
        if member.startswith(kind):
            return kind + member.removeprefix(kind).lower()
    return member


@dataclass(frozen=True)
class Caller:
    """Who is asking, with every member string that names them."""

    kind: Literal["federated", "serviceAccount", "user", "anonymous"]
    name: str
    pool_name: str | None = None
    groups: tuple[str, ...] = ()
    attributes: Mapping[str, str | tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @classmethod
    def federated(cls, pool_name: str, mapped: MappedAttributes) -> Caller:
        """The identity STS vouches for: a mapped subject in a workload identity pool."""
        return cls("federated", mapped.subject, pool_name, tuple(mapped.groups), mapped.attributes)

    def members(self) -> frozenset[str]:
        return self._members

    @cached_property
    def _members(self) -> frozenset[str]:
        if self.kind == "anonymous":
            return frozenset({"allUsers"})
        if self.kind != "federated":
            # Federated identities are not "authenticated users" in Google's sense.
            return frozenset(
                {"allUsers", "allAuthenticatedUsers", canonical_member(self.principal())}
            )
        pool = f"{IAM_HOST}{self.pool_name}"
        members = {"allUsers", self.principal(), f"principalSet:{pool}/*"}
        members.update(f"principalSet:{pool}/group/{group}" for group in self.groups)
        for name, value in self.attributes.items():
            values = (value,) if isinstance(value, str) else value
            members.update(f"principalSet:{pool}/attribute.{name}/{v}" for v in values)
        return frozenset(members)

    def principal(self) -> str:
        """The one member string that names this caller in messages and logs."""
        if self.kind == "federated":
            return f"principal:{IAM_HOST}{self.pool_name}/subject/{self.name}"
        if self.kind == "anonymous":
            return "allUsers"
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class Grant:
    """The binding that let a caller through: which role, on what, via which member."""

    resource: str
    role: str
    member: str

    def __str__(self) -> str:
        return f"{self.role} on {self.resource} via {self.member}"

    def to_json(self) -> dict[str, str]:
        return {"resource": self.resource, "role": self.role, "member": self.member}


def find_grant(
    caller: Caller, permission: str, policies: Iterable[tuple[str, Policy]]
) -> Grant | None:
    """The first binding, in the order given, that grants ``permission`` to ``caller``."""
    return decide_grant(caller, permission, policies).grant


@dataclass(frozen=True)
class GrantDecision:
    """``find_grant`` with its reasons: the caller's members, then each binding considered
    (in order, up to the one that matched) and why it did or did not grant."""

    grant: Grant | None
    checks: tuple[Check, ...]


def decide_grant(
    caller: Caller, permission: str, policies: Iterable[tuple[str, Policy]]
) -> GrantDecision:
    policies = list(policies)
    members = caller.members()
    checks = [
        Check("caller", True, None, {"principal": caller.principal(), "members": sorted(members)})
    ]
    for resource, policy in policies:
        for binding in policy.bindings:
            considered = {
                "resource": resource,
                "role": binding.role,
                "members": list(binding.members),
            }
            if permission not in PERMISSIONS_BY_ROLE.get(binding.role, ()):
                checks.append(
                    Check("binding", False, considered, None, f"{binding.role} lacks {permission}")
                )
                continue
            member = next((m for m in binding.members if canonical_member(m) in members), None)
            if member is None:
                checks.append(
                    Check("binding", False, considered, None, "names none of the caller's members")
                )
                continue
            grant = Grant(resource, binding.role, member)
            checks.append(Check("binding", True, considered, member, f"grants {permission}"))
            checks.append(Check("permission", True, permission, grant.to_json()))
            return GrantDecision(grant, tuple(checks))
    where = " or ".join(resource for resource, _ in policies) or "any resource"
    checks.append(Check("permission", False, permission, None, f"no binding on {where} grants it"))
    return GrantDecision(None, tuple(checks))
