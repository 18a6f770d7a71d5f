"""What the demo will do: which fake user, provider, service account and Cloud Run service.

Defaults follow the seeds: profile ``alice``; the first provider that accepts her token; the
service account whose policy names her and that may invoke the service; the first private
service. Every choice can be forced by flag, so a teacher can show each failure on purpose
(``--profile bob``: STS refuses; ``--profile dave``: IAM refuses). When nothing fits, the demo
still picks the likeliest candidate and lets Google say no: that is the lesson.

A profile is a caller: a fake user of the IdP (``alice``), or, with the prefix ``aws:``, one of
the local AWS identities (``local.aws.identities``), named by its user or role name
(``aws:svcacct1``, ``aws:ec2role``). An AWS caller signs GetCallerIdentity instead of
minting a token and is matched to AWS providers only; the rest of the chain is the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mock_gcp.iam import Caller
from mock_gcp.topology import Provider, Service, ServiceAccount, Topology
from wiflab_core.aws_arn import parse_arn
from wiflab_lab.demo.endpoints import Endpoints
from wiflab_lab.demo.explain import (
    explain_account_grant,
    explain_exchange,
    explain_invoke,
    token_audience,
)

DEFAULT_PROFILE = "alice"
ID_TOKEN_PERMISSION = "iam.serviceAccounts.getOpenIdToken"
ACCESS_TOKEN_PERMISSION = "iam.serviceAccounts.getAccessToken"
APP_WITH_DUMP = "protected_app"
AWS_PREFIX = "aws:"


@dataclass(frozen=True)
class AwsCaller:
    """A local AWS identity the demo signs as: its ARN, and whether it is the EC2 instance's
    role (its keys come from the IMDSv2) or has keys of its own (the environment)."""

    arn: str
    account: str
    imds: bool


class PlanError(ValueError):
    """A choice that cannot be made: the flag it concerns, and why."""

    def __init__(self, flag: str, message: str):
        super().__init__(f"{flag}: {message}")
        self.flag = flag


@dataclass(frozen=True)
class DemoPlan:
    profile: str
    claims: dict[str, Any]  # the profile's claims plus the aud the provider expects
    provider: Provider
    provider_key: str  # "POOL/PROVIDER"
    sts_audience: str
    account: ServiceAccount
    service: Service
    service_url: str
    aws: AwsCaller | None = None

    def to_json(self) -> dict[str, Any]:
        aws = {"aws": {"arn": self.aws.arn, "imds": self.aws.imds}} if self.aws else {}
        return {
            **aws,
            "profile": self.profile,
            "provider": self.provider_key,
            "audience": self.sts_audience,
            "serviceAccount": self.account.email,
            "service": self.service.name,
            "serviceUrl": self.service_url,
        }


def choose(
    topology: Topology,
    endpoints: Endpoints,
    profile: str | None = None,
    provider: str | None = None,
    service_account: str | None = None,
    service: str | None = None,
) -> DemoPlan:
    profile = profile or DEFAULT_PROFILE
    aws = aws_caller(topology, endpoints, profile)
    base_claims = aws_assertion(aws) if aws else topology.idp.claims(profile)
    if base_claims is None:
        known = ", ".join(profiles(topology)) or "none in the topology's idp.profiles"
        raise PlanError("--profile", f"{profile!r} is not a profile (known: {known})")
    chosen_provider, key = _provider(topology, endpoints, base_claims, provider, aws is not None)
    sts_audience = endpoints.providers[key]
    claims = dict(base_claims)
    if aws is None:
        claims["aud"] = token_audience(chosen_provider, sts_audience)
    verdict = explain_exchange(topology, chosen_provider, claims)
    chosen_service, url = _service(topology, endpoints, service)
    account = _account(
        topology, verdict.caller, chosen_service, service_account, chosen_provider.pool_id
    )
    return DemoPlan(
        profile, claims, chosen_provider, key, sts_audience, account, chosen_service, url, aws
    )


def profiles(topology: Topology) -> list[str]:
    """Every caller ``--profile`` names: the IdP's fake users, then ``aws:NAME`` for each
    local AWS identity."""
    return [*topology.idp.profiles, *aws_profiles(topology)]


def aws_profiles(topology: Topology) -> dict[str, str]:
    """``aws:NAME`` -> ARN: each local AWS identity by its user's or role's name."""
    return {f"{AWS_PREFIX}{parse_arn(i.arn).name}": i.arn for i in topology.local.aws.identities}


def aws_caller(topology: Topology, endpoints: Endpoints, profile: str) -> AwsCaller | None:
    """The AWS identity ``aws:NAME`` names (None for the IdP's profiles)."""
    if not profile.startswith(AWS_PREFIX):
        return None
    arn = aws_profiles(topology).get(profile)
    if arn is None:
        known = ", ".join(aws_profiles(topology)) or "none in the topology's local.aws.identities"
        raise PlanError("--profile", f"{profile!r} is not an AWS identity (known: {known})")
    if endpoints.aws_sts_url is None:
        raise PlanError("--profile", f"{profile}: these endpoints have no local AWS side (aws)")
    identity = next(i for i in topology.local.aws.identities if i.arn == arn)
    if not identity.imds and arn not in endpoints.aws_identities:
        raise PlanError("--profile", f"{profile}: the endpoints' aws.identities lack its keys")
    return AwsCaller(arn, parse_arn(arn).account, identity.imds)


def aws_assertion(aws: AwsCaller) -> dict[str, Any]:
    """What AWS's GetCallerIdentity will say of the caller, as STS's ``assertion``."""
    return {"arn": aws.arn, "account": aws.account}


def _provider(
    topology: Topology,
    endpoints: Endpoints,
    base_claims: dict[str, Any],
    wanted: str | None,
    aws: bool = False,
) -> tuple[Provider, str]:
    if wanted is not None:
        pool_id, _, provider_id = wanted.partition("/")
        found = topology.provider(pool_id, provider_id)
        if found is None:
            raise PlanError("--provider", f"{wanted!r} is not a POOL/PROVIDER of the topology")
        if wanted not in endpoints.providers:
            raise PlanError("--provider", f"{wanted!r} is not served by these endpoints")
        if (found.aws is not None) != aws:
            caller = "an OIDC profile" if found.aws is not None else "an AWS profile (aws:NAME)"
            kind = "an AWS" if found.aws is not None else "an OIDC"
            raise PlanError("--provider", f"{wanted!r} is {kind} provider: it takes {caller}")
        return found, wanted
    candidates = [
        (p, f"{p.pool_id}/{p.provider_id}")
        for pool in topology.pools
        for p in pool.providers
        if f"{p.pool_id}/{p.provider_id}" in endpoints.providers and (p.aws is not None) == aws
    ]
    if not candidates:
        kind = "AWS " if aws else ""
        raise PlanError("--provider", f"the endpoints serve none of the topology's {kind}providers")
    for candidate, key in candidates:
        claims = dict(base_claims)
        if not aws:
            claims["aud"] = token_audience(candidate, endpoints.providers[key])
        if aws and not _same_account(candidate, claims):
            continue
        if explain_exchange(topology, candidate, claims).accepted:
            return candidate, key
    return candidates[0]  # no provider accepts this profile: STS will say why


def _service(topology: Topology, endpoints: Endpoints, wanted: str | None) -> tuple[Service, str]:
    if wanted is not None:
        found = topology.service(wanted)
        if found is None or wanted not in endpoints.services:
            known = ", ".join(s for s in endpoints.services) or "none"
            raise PlanError("--service", f"{wanted!r} is not a running service (known: {known})")
        return found, endpoints.services[wanted]
    served = [s for s in topology.services if s.name in endpoints.services]
    private = [s for s in served if not s.allow_unauthenticated]
    ranked = [s for s in private if s.app == APP_WITH_DUMP] + private + served
    if not ranked:
        raise PlanError("--service", "the endpoints serve none of the topology's services")
    return ranked[0], endpoints.services[ranked[0].name]


def _account(
    topology: Topology,
    caller: Caller | None,
    service: Service,
    wanted: str | None,
    pool_id: str = "",
) -> ServiceAccount:
    if wanted is not None:
        found = topology.service_account(wanted)
        if found is None:
            known = ", ".join(sa.email for sa in topology.service_accounts) or "none"
            raise PlanError("--service-account", f"{wanted!r} is not in the topology ({known})")
        return found
    accounts = list(topology.service_accounts)
    if not accounts:
        raise PlanError("--service-account", "the topology has no serviceAccounts")

    def usable(account: ServiceAccount) -> bool:
        return caller is not None and all(
            explain_account_grant(topology, caller, account, permission).passed
            for permission in (ID_TOKEN_PERMISSION, ACCESS_TOKEN_PERMISSION)
        )

    def invokes(account: ServiceAccount) -> bool:
        return explain_invoke(topology, service, account.email).passed

    def names_pool(account: ServiceAccount) -> bool:
        # A refused caller's likeliest account: one whose policy names the provider's pool.
        pool = f"/workloadIdentityPools/{pool_id}/"
        return any(pool in m for b in account.policy.bindings for m in b.members)

    ranked = (
        [a for a in accounts if usable(a) and invokes(a)]
        + [a for a in accounts if usable(a)]
        + [a for a in accounts if names_pool(a) and invokes(a)]
        + [a for a in accounts if invokes(a)]
        + accounts
    )
    return ranked[0]


def forecast(topology: Topology, endpoints: Endpoints, profile: str) -> str:
    """What the default chain would do for ``profile``, from the rules alone (no HTTP)."""
    plan = choose(topology, endpoints, profile=profile)
    account = plan.account.email.split("@")[0]
    if not _same_account(plan.provider, plan.claims):
        return "STS refuses: AWS account (not the provider's accountId)"
    verdict = explain_exchange(topology, plan.provider, plan.claims)
    if verdict.caller is None:
        failed = next((c for c in verdict.checks if not c.passed), None)
        return f"STS refuses: {failed.rule if failed else 'attribute condition'}"
    for permission in (ID_TOKEN_PERMISSION, ACCESS_TOKEN_PERMISSION):
        if not explain_account_grant(topology, verdict.caller, plan.account, permission).passed:
            return f"IAM refuses: no binding on {account} names it"
    if not explain_invoke(topology, plan.service, plan.account.email).passed:
        return f"Cloud Run refuses: {account} lacks run.invoker"
    return f"passes, as {account}"


def _same_account(provider: Provider, claims: dict[str, Any]) -> bool:
    """An AWS provider's accountId is the caller's (STS checks it before the mapping)."""
    return provider.aws is None or claims.get("account") == provider.aws.account_id
