"""The whole topology document: Google's resources, the lab's own sections, and the lookups
and resource names the services use."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator
from pydantic.dataclasses import dataclass as model

from mock_gcp.iam import Policy
from mock_gcp.topology.errors import Problem
from mock_gcp.topology.fields import DOCUMENT, Items, unique
from mock_gcp.topology.lab import IdpSettings, LocalSettings, Service
from mock_gcp.topology.resources import (
    LIFETIME_EXTENSION,
    OrgPolicy,
    Pool,
    Project,
    Provider,
    ServiceAccount,
)


def _unique_ids(accounts: tuple[ServiceAccount, ...]) -> tuple[ServiceAccount, ...]:
    seen: set[str] = set()
    for i, account in enumerate(accounts):
        if account.unique_id in seen:
            raise Problem(f"duplicate {account.unique_id}", i, "uniqueId")
        seen.add(account.unique_id)
    return accounts


@model(frozen=True, config=DOCUMENT)
class Topology:
    project: Project
    pools: Annotated[Items[Pool], unique(lambda p: p.id, "pool id")] = ()
    service_accounts: Annotated[
        Items[ServiceAccount],
        unique(lambda sa: sa.email.lower(), "service account"),
        AfterValidator(_unique_ids),
    ] = Field(default=(), alias="serviceAccounts")
    services: Annotated[Items[Service], unique(lambda s: s.name, "service")] = ()
    policy: Policy = Field(default_factory=Policy)
    idp: IdpSettings = Field(default_factory=IdpSettings)
    org_policy: OrgPolicy = Field(default_factory=OrgPolicy, alias="orgPolicy")
    local: LocalSettings = Field(default_factory=LocalSettings)

    @model_validator(mode="after")
    def _resolve_declared_accounts(self) -> Topology:
        # Written as declared, whatever the case they are referred to in.
        extended = self.org_policy.lifetime_extension
        at = ("orgPolicy", LIFETIME_EXTENSION)
        declared = [self._declared(email, *at, i) for i, email in enumerate(extended)]
        object.__setattr__(self, "org_policy", OrgPolicy(tuple(sorted(set(declared)))))
        email = self.local.metadata_service_account
        if email is not None:
            declared_email = self._declared(email, "local", "metadataServiceAccount")
            object.__setattr__(self, "local", LocalSettings(declared_email, self.local.aws))
        return self

    def _declared(self, email: str, *at: str | int) -> str:
        account = self._service_accounts.get(email.lower())
        if account is None:
            raise Problem(f"{email!r} is not one of serviceAccounts", *at)
        return account.email

    @property
    def project_id(self) -> str:
        return self.project.id

    @property
    def project_number(self) -> str:
        return self.project.number

    @cached_property
    def lifetime_extension(self) -> frozenset[str]:
        """Accounts whose access tokens may live > 1 h (the org policy names them)."""
        return frozenset(self.org_policy.lifetime_extension)

    def pool(self, pool_id: str) -> Pool | None:
        return self._pools.get(pool_id)

    def provider(self, pool_id: str, provider_id: str) -> Provider | None:
        pool = self.pool(pool_id)
        return (
            next((p for p in pool.providers if p.provider_id == provider_id), None)
            if pool
            else None
        )

    def service_account(self, email_or_unique_id: str) -> ServiceAccount | None:
        key = email_or_unique_id.lower() if "@" in email_or_unique_id else email_or_unique_id
        return self._service_accounts.get(key)

    def service(self, name: str) -> Service | None:
        return self._services.get(name)

    def pool_name(self, pool_id: str) -> str:
        return f"projects/{self.project_number}/locations/global/workloadIdentityPools/{pool_id}"

    def provider_name(self, pool_id: str, provider_id: str) -> str:
        return f"{self.pool_name(pool_id)}/providers/{provider_id}"

    def provider_audience(self, pool_id: str, provider_id: str) -> str:
        return f"//iam.googleapis.com/{self.provider_name(pool_id, provider_id)}"

    @cached_property
    def _pools(self) -> Mapping[str, Pool]:
        return {p.id: p for p in self.pools}

    @cached_property
    def _service_accounts(self) -> Mapping[str, ServiceAccount]:
        index = {sa.email.lower(): sa for sa in self.service_accounts}
        index.update({sa.unique_id: sa for sa in self.service_accounts})
        return index

    @cached_property
    def _services(self) -> Mapping[str, Service]:
        return {s.name: s for s in self.services}
