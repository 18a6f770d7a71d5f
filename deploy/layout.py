"""What a topology puts on Cloud Run, checked before any command is planned.

Setup and teardown both start here, so a topology deploy cannot serve fails with the field to
fix and nothing run.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy.errors import PlanError
from deploy.target import Target
from mock_gcp.topology import IDP_APP, Provider, Service, Topology


@dataclass(frozen=True)
class Layout:
    idp: Service | None  # the fake IdP's service, if the topology runs one
    services: tuple[Service, ...]  # the IdP first: the providers and the config need its URL
    apps: tuple[str, ...]  # the apps the services run, each once, in that order

    def apps_to_build(self, target: Target) -> tuple[str, ...]:
        return tuple(app for app in self.apps if app not in target.images)


def layout_of(topology: Topology, target: Target) -> Layout:
    target.check_renames(topology)
    idps = [(i, s) for i, s in enumerate(topology.services) if s.app == IDP_APP]
    if len(idps) > 1:
        raise PlanError(
            f"services[{idps[1][0]}]", "one idp_server service per project: they share its secrets"
        )
    idp = idps[0][1] if idps else None
    if idp is not None and not idp.allow_unauthenticated:
        raise PlanError(
            f"services[{idps[0][0]}].allowUnauthenticated",
            "the IdP must be public: Google's STS reads its discovery document and keys "
            "without credentials",
        )
    for path, provider in _providers(topology):
        if provider.oidc and provider.oidc.issuer_uri is None and idp is None:
            raise PlanError(
                f"{path}.oidc.issuerUri",
                "no issuerUri and no idp_server service to be the issuer: add one of them",
            )
    suffix = f"@{topology.project_id}.iam.gserviceaccount.com"
    for i, account in enumerate(topology.service_accounts):
        if not account.email.lower().endswith(suffix):
            raise PlanError(
                f"serviceAccounts[{i}].email",
                f"{account.email} is not an account of project {topology.project_id}: "
                "deploy creates the project's own accounts only",
            )
    services = ((idp,) if idp else ()) + tuple(s for s in topology.services if s is not idp)
    return Layout(idp, services, tuple(dict.fromkeys(s.app for s in services)))


def _providers(topology: Topology) -> list[tuple[str, Provider]]:
    return [
        (f"pools[{i}].providers[{j}]", provider)
        for i, pool in enumerate(topology.pools)
        for j, provider in enumerate(pool.providers)
    ]
