"""The ready-made external-account configs a topology gets, and writing them.

Shared by the local stack (``wiflab up``) and ``deploy/`` (the gcp config): for every enabled
provider that one of the IdP's profiles passes, a federated config and one impersonating each
service account whose policy names the provider's pool, named ``POOL.PROVIDER.SOURCE[.SA]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mock_gcp.sts.exchange import map_and_check
from mock_gcp.topology import Provider, Topology
from wiflab_core import external_account as credentials
from wiflab_core.private_file import write_private


def enabled_providers(topology: Topology) -> Iterator[Provider]:
    for pool in topology.pools:
        if not pool.disabled:
            yield from (p for p in pool.providers if not p.disabled)


def accepted_profile(topology: Topology, provider: Provider) -> str | None:
    """The first IdP profile whose claims the provider's mapping and condition accept."""
    audience = topology.provider_audience(provider.pool_id, provider.provider_id)
    for name in topology.idp.profiles:
        claims = {**(topology.idp.claims(name) or {}), "aud": audience}
        if map_and_check(topology, provider, claims).decision.allowed:
            return name
    return None


def reachable_accounts(topology: Topology, provider: Provider) -> list[str]:
    """Service accounts whose policy names any identity of the provider's pool."""
    pool = f"iam.googleapis.com/{topology.pool_name(provider.pool_id)}/"
    return [
        sa.email
        for sa in topology.service_accounts
        if any(pool in m for b in sa.policy.bindings for m in b.members)
    ]


@dataclass(frozen=True)
class ProviderCredentials:
    """One provider's configs: the profile whose tokens it accepts, the accounts to act as."""

    provider: Provider
    profile: str
    audience: str
    accounts: tuple[str, ...]

    @property
    def stem(self) -> str:
        return f"{self.provider.pool_id}.{self.provider.provider_id}"

    def subject_token_file(self, directory: Path) -> Path:
        return directory / f"{self.stem}.subject-token"

    def name(self, source: str, account: str | None = None) -> str:
        return f"{self.stem}.{source}" + (f".{account.split('@')[0]}" if account else "")


def plan(
    topology: Topology, include: Callable[[Provider], bool] = lambda _: True
) -> list[ProviderCredentials]:
    """Every included enabled provider that some profile passes; the others get no configs."""
    plans = []
    for provider in enabled_providers(topology):
        profile = accepted_profile(topology, provider) if include(provider) else None
        if profile is None:
            continue
        audience = topology.provider_audience(provider.pool_id, provider.provider_id)
        accounts = tuple(reachable_accounts(topology, provider))
        plans.append(ProviderCredentials(provider, profile, audience, accounts))
    return plans


def aws_plan(topology: Topology) -> list[ProviderCredentials]:
    """Every enabled AWS provider, with the accounts its pool may act as (its callers are AWS
    identities, not the IdP's profiles: ``profile`` is empty)."""
    return [
        ProviderCredentials(
            provider,
            "",
            topology.provider_audience(provider.pool_id, provider.provider_id),
            tuple(reachable_accounts(topology, provider)),
        )
        for provider in enabled_providers(topology)
        if provider.aws is not None
    ]


def aws_sources(imds: str = credentials.AWS_IMDS) -> dict[str, dict[str, Any]]:
    """An AWS caller's two configs: ``aws-env`` (gcloud's ``--aws``: keys from the environment,
    else the IMDS) and ``aws-imds`` (``--aws --enable-imdsv2``: an EC2 instance's role)."""
    return {
        "aws-env": credentials.aws_source(imds),
        "aws-imds": credentials.aws_source(imds, imdsv2=True),
    }


def write(
    plans: list[ProviderCredentials],
    directory: Path,
    sources: Callable[[ProviderCredentials], Mapping[str, dict[str, Any]]],
    *,
    token_url: str = credentials.GOOGLE_STS_TOKEN_URL,
    iamcredentials: str = credentials.GOOGLE_IAMCREDENTIALS,
) -> dict[str, str]:
    """Write every config as DIRECTORY/NAME.json; returns {name: path}."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    for entry in plans:
        for source_name, source in sources(entry).items():
            for account in (None, *entry.accounts):
                name = entry.name(source_name, account)
                config = credentials.external_account(
                    entry.audience,
                    source,
                    token_url=token_url,
                    service_account=account,
                    iamcredentials=iamcredentials,
                )
                path = (directory / f"{name}.json").resolve()
                # No final newline: byte for byte what gcloud create-cred-config writes.
                write_private(path, json.dumps(config, indent=2))
                written[name] = str(path)
    return written
