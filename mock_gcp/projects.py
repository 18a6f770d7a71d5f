"""The projects one Google-side instance serves: a topology each, found as Google finds them.

Google's resource names carry the project: a provider's audience and a principal its number
(``projects/NUMBER/locations/global/workloadIdentityPools/...``), a service account's email
its id (``NAME@PROJECT_ID.iam.gserviceaccount.com``), a Cloud Run service its project. A
``Projects`` value is one immutable snapshot of them all, with the indexes the services look
things up in; a new one is built only when a project is put, changed or deleted.

Cross-project bindings work as in Google: a principal of project A's pool bound on project
B's service account is honoured, since the binding names the principal and the account's
own project holds the binding (unverified: no primary source in the reference says so, but
pools and the accounts they impersonate routinely live in different projects). A resource in
a project that is not loaded is simply not found: the services answer with the texts they
answer for any missing resource (unverified for a whole project: Google's texts for a
deleted provider, pool or account are the ones used).

No Flask here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mock_gcp.topology import Pool, Service, ServiceAccount, Topology, TopologyError, load_topology

_POOL_NAME = re.compile(
    r"projects/(?P<number>\d+)/locations/global/workloadIdentityPools/(?P<pool>[^/]+)"
)
_SA_DOMAIN = re.compile(r"@(?P<project>[^@.]+)\.iam\.gserviceaccount\.com$")


class AccountLookup(Protocol):
    """Finds a service account by email or unique id: one topology, or every project."""

    def service_account(self, email_or_unique_id: str) -> ServiceAccount | None: ...


class ProjectConflict(ValueError):
    """Two topologies claim the same project number or id: the message names both."""

    def __init__(self, field_path: str, message: str):
        super().__init__(message)
        self.field = field_path
        self.message = message


def conflict(new: Topology, new_name: str, old: Topology, old_name: str) -> ProjectConflict | None:
    """Why ``new`` (from ``new_name``) cannot be loaded beside ``old``, or None."""
    if new.project_number == old.project_number:
        return ProjectConflict(
            "project.number",
            f"{new_name} and {old_name} both declare project number {new.project_number}: "
            "each project is loaded once",
        )
    if new.project_id == old.project_id:
        return ProjectConflict(
            "project.id",
            f"{new_name} and {old_name} both declare project id {new.project_id!r}: "
            "each project is loaded once",
        )
    return None


@dataclass(frozen=True)
class Projects:
    """Every loaded project, the default one first (the metadata server's, the one
    ``/wiflab/v1/topology`` reads and changes)."""

    default: Topology
    others: tuple[Topology, ...] = ()
    _by_number: dict[str, Topology] = field(init=False, repr=False, compare=False)
    _by_id: dict[str, Topology] = field(init=False, repr=False, compare=False)
    _accounts: dict[str, tuple[Topology, ServiceAccount]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        by_number: dict[str, Topology] = {}
        by_id: dict[str, Topology] = {}
        accounts: dict[str, tuple[Topology, ServiceAccount]] = {}
        for topology in self:
            # The default project wins a clash (a run-time document refused it already).
            by_number.setdefault(topology.project_number, topology)
            by_id.setdefault(topology.project_id, topology)
        for topology in self:
            for account in topology.service_accounts:
                owned = (topology, account)
                email = account.email.lower()
                domain = _SA_DOMAIN.search(email)
                # An email names its project: that project's account, whoever else lists it.
                if domain is None or domain["project"] == topology.project_id:
                    accounts[email] = owned
                else:
                    accounts.setdefault(email, owned)
                accounts.setdefault(account.unique_id, owned)
        object.__setattr__(self, "_by_number", by_number)
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_accounts", accounts)

    def __iter__(self) -> Iterator[Topology]:
        yield self.default
        yield from self.others

    def __len__(self) -> int:
        return 1 + len(self.others)

    @property
    def numbers(self) -> tuple[str, ...]:
        return tuple(t.project_number for t in self)

    def by_number(self, number: str) -> Topology | None:
        return self._by_number.get(number)

    def by_id(self, project_id: str) -> Topology | None:
        return self._by_id.get(project_id)

    def by_number_or_id(self, name: str) -> Topology | None:
        return self._by_number.get(name) or self._by_id.get(name)

    def pool(self, pool_name: str) -> Pool | None:
        """The pool ``projects/NUMBER/locations/global/workloadIdentityPools/ID``."""
        match = _POOL_NAME.fullmatch(pool_name)
        topology = self.by_number(match["number"]) if match else None
        return topology.pool(match["pool"]) if topology is not None and match else None

    def service_account(self, email_or_unique_id: str) -> ServiceAccount | None:
        found = self.account_and_project(email_or_unique_id)
        return found[1] if found else None

    def account_and_project(
        self, email_or_unique_id: str
    ) -> tuple[Topology, ServiceAccount] | None:
        """The account (by email, any case, or unique id) and the project that holds it."""
        key = email_or_unique_id.lower() if "@" in email_or_unique_id else email_or_unique_id
        return self._accounts.get(key)

    def service(self, name: str, project: str | None = None) -> tuple[Topology, Service] | None:
        """The Cloud Run service ``name``: of ``project`` (number or id) when given, else of
        the first project that has one by that name, the default first."""
        candidates = [self.by_number_or_id(project)] if project else list(self)
        for topology in candidates:
            service = topology.service(name) if topology is not None else None
            if topology is not None and service is not None:
                return topology, service
        return None


def load_projects(paths: Sequence[Path]) -> tuple[Topology, ...]:
    """Each topology file, validated, the first the default project. TopologyError naming
    the file (and the path inside it), or naming both files when two declare one project."""
    loaded: list[tuple[Path, Topology]] = []
    for path in paths:
        topology = load_topology(path)
        for earlier_path, earlier in loaded:
            clash = conflict(topology, str(path), earlier, str(earlier_path))
            if clash is not None:
                raise TopologyError(clash.field, clash.message)
        loaded.append((path, topology))
    return tuple(t for _, t in loaded)


def numbered(topologies: Mapping[str, Topology]) -> tuple[Topology, ...]:
    """Run-time projects in a stable order (by number)."""
    return tuple(topologies[n] for n in sorted(topologies))
