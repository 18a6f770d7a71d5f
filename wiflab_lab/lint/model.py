"""What lint reads and what it says: the inventory of providers and bindings it checks
(whatever the input's format), the rules, and their findings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Severity = Literal["error", "warning", "note"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "note")


@dataclass(frozen=True)
class Where:
    """Where a resource was read: the input file and, when known, the line it starts on."""

    file: str
    line: int | None = None


@dataclass(frozen=True)
class ProviderSpec:
    """One workload identity pool provider, as any input describes it."""

    resource: str  # the resource path in its input (pools[0].providers[1], a name, an address)
    pool_id: str
    provider_id: str
    issuer: str | None  # None: this lab's own IdP (a topology provider without oidc.issuerUri)
    mapping: Mapping[str, str]
    condition: str | None
    allowed_audiences: tuple[str, ...] = ()
    where: Where | None = None


@dataclass(frozen=True)
class BindingSpec:
    """One role granted to members on one resource (a service account, a project, ...)."""

    resource: str  # the binding's path in its input
    target: str  # what it is granted on: a service account's email, "project", ...
    role: str
    members: tuple[str, ...]
    where: Where | None = None


@dataclass(frozen=True)
class Inventory:
    """Everything lint checks, from one or several inputs."""

    providers: tuple[ProviderSpec, ...] = ()
    bindings: tuple[BindingSpec, ...] = ()
    # Pool ids the inputs define; None: no input said which pools exist.
    pools: frozenset[str] | None = None
    project_number: str | None = None
    project_id: str | None = None
    # Problems the input's own validation found that no rule covers: (resource, message, where).
    invalid: tuple[tuple[str, str, Where | None], ...] = ()
    # Where the parts of resources are (a provider's attributeCondition, a binding's
    # members[2], ...), by the resource path findings name them with.
    places: Mapping[str, Where] = field(default_factory=lambda: MappingProxyType({}))
    # A topology's idp.presets: preset -> its params (the user's repository, owner, ...).
    preset_params: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def __add__(self, other: Inventory) -> Inventory:
        pools: frozenset[str] | None = None
        if self.pools is not None or other.pools is not None:
            pools = (self.pools or frozenset()) | (other.pools or frozenset())
        return Inventory(
            self.providers + other.providers,
            self.bindings + other.bindings,
            pools,
            self.project_number or other.project_number,
            self.project_id or other.project_id,
            self.invalid + other.invalid,
            MappingProxyType({**self.places, **other.places}),
            MappingProxyType({**self.preset_params, **other.preset_params}),
        )


@dataclass(frozen=True)
class Rule:
    id: str  # stable: WIF001 ...
    name: str  # kebab-case, e.g. shared-issuer-condition
    severity: Severity
    summary: str  # one line
    description: str  # the full description: what it finds and why it matters
    source: str  # the URL that says so


@dataclass(frozen=True)
class Finding:
    rule: Rule
    resource: str
    message: str
    why: str
    fix: str
    where: Where | None = None
    severity: Severity | None = None  # None: the rule's own
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def level(self) -> Severity:
        return self.severity or self.rule.severity

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def source(self) -> str:
        return self.rule.source

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.rule.id,
            "rule": self.rule.name,
            "severity": self.level,
            "resource": self.resource,
            "message": self.message,
            "why": self.why,
            "source": self.rule.source,
            "fix": self.fix,
            "file": self.where.file if self.where else None,
            "line": self.where.line if self.where else None,
        }
