"""The demo's choices and explanations, from wif.yaml's rules alone (no HTTP)."""

from __future__ import annotations

import pytest

from mock_gcp.topology import Topology, load_topology
from tests.wiflab_demo.conftest import TOPOLOGY
from wiflab_lab.demo.endpoints import Endpoints
from wiflab_lab.demo.explain import explain_exchange
from wiflab_lab.demo.plan import PlanError, choose, forecast

OIDC_FEDERATED = "oidc-federated@demo-project.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_topology(TOPOLOGY)


@pytest.fixture(scope="module")
def endpoints(topology: Topology) -> Endpoints:
    providers = {
        f"{p.pool_id}/{p.provider_id}": topology.provider_audience(p.pool_id, p.provider_id)
        for pool in topology.pools
        for p in pool.providers
    }
    return Endpoints(
        target="local",
        idp_token_url="http://127.0.0.1:1/token",
        sts_token_url="http://127.0.0.1:2/v1/token",
        iamcredentials="http://127.0.0.1:2",
        services={s.name: f"http://127.0.0.1:{10 + i}" for i, s in enumerate(topology.services)},
        providers=providers,
    )


def test_defaults_follow_seed_001(topology: Topology, endpoints: Endpoints) -> None:
    plan = choose(topology, endpoints)
    assert plan.profile == "alice"
    assert plan.provider_key == "oidc-pool-run/oidc-provider-1"
    assert plan.claims["aud"] == plan.sts_audience == endpoints.providers[plan.provider_key]
    assert plan.claims["sub"] == "alice@domain.com"
    assert plan.account.email == OIDC_FEDERATED  # names alice and may invoke the service
    assert plan.service.name == "federated-auth-cloud-run"  # the first private service
    assert plan.service_url == endpoints.services["federated-auth-cloud-run"]


@pytest.mark.parametrize(
    ("profile", "provider", "account", "outcome"),
    [
        ("bob", "oidc-pool-run/oidc-provider-1", OIDC_FEDERATED, "STS refuses"),
        ("carol", "oidc-pool-run/oidc-provider-1", OIDC_FEDERATED, "passes"),
        ("dave", "oidc-pool-run/oidc-provider-1", OIDC_FEDERATED, "IAM refuses"),
        (
            "acme-project",
            "tenant-pool/tenant-provider",
            "bigquery-runner@demo-project.iam.gserviceaccount.com",
            "Cloud Run refuses",
        ),
    ],
)
def test_each_profile_gets_the_likeliest_chain_and_its_forecast(
    topology: Topology,
    endpoints: Endpoints,
    profile: str,
    provider: str,
    account: str,
    outcome: str,
) -> None:
    plan = choose(topology, endpoints, profile=profile)
    assert (plan.provider_key, plan.account.email) == (provider, account)
    assert forecast(topology, endpoints, profile).startswith(outcome)


def test_flags_override_each_choice(topology: Topology, endpoints: Endpoints) -> None:
    plan = choose(
        topology,
        endpoints,
        profile="alice",
        provider="tenant-pool/tenant-provider",
        service_account="target-serviceaccount@demo-project.iam.gserviceaccount.com",
        service="idp-on-cloud-run",
    )
    assert plan.provider_key == "tenant-pool/tenant-provider"
    assert plan.claims["aud"].endswith("/tenant-pool/providers/tenant-provider")
    assert plan.account.email.startswith("target-serviceaccount@")
    assert plan.service.name == "idp-on-cloud-run"


@pytest.mark.parametrize(
    ("flags", "flag"),
    [
        ({"profile": "zed"}, "--profile"),
        ({"provider": "no-such-pool/x"}, "--provider"),
        ({"service_account": "ghost@demo-project.iam.gserviceaccount.com"}, "--service-account"),
        ({"service": "no-such-service"}, "--service"),
    ],
)
def test_unknown_choices_name_their_flag(
    topology: Topology, endpoints: Endpoints, flags: dict[str, str], flag: str
) -> None:
    with pytest.raises(PlanError) as refused:
        choose(topology, endpoints, **flags)
    assert refused.value.flag == flag
    assert str(refused.value).startswith(f"{flag}: ")


def test_condition_refusal_shows_the_values_it_read(topology: Topology) -> None:
    provider = topology.provider("tenant-pool", "tenant-provider")
    assert provider is not None
    claims = {**(topology.idp.claims("other-tenant") or {}), "aud": "x"}
    verdict = explain_exchange(topology, provider, claims)
    assert verdict.caller is None
    condition = verdict.checks[-1]
    assert condition.rule == "attribute condition" and condition.passed is False
    assert condition.text == "assertion.org_id == 'org-acme' → false"
    assert condition.details == ('with assertion.org_id = "org-other"',)


def test_accepted_exchange_names_the_principal_and_its_sets(topology: Topology) -> None:
    provider = topology.provider("oidc-pool-run", "oidc-provider-1")
    assert provider is not None
    claims = {**(topology.idp.claims("carol") or {}), "aud": "x"}
    verdict = explain_exchange(topology, provider, claims)
    assert verdict.caller is not None
    identity = verdict.checks[-1]
    assert identity.details[0].endswith(
        "/workloadIdentityPools/oidc-pool-run/subject/carol@domain.com"
    )
    assert "  principalSet://…/oidc-pool-run/group/group1" in identity.details


# -- AWS callers (--profile aws:NAME) ---------------------------------------------------------

AWS_FEDERATED = "aws-federated@demo-project.iam.gserviceaccount.com"


def _with_aws(endpoints: Endpoints, *users: str) -> Endpoints:
    """The endpoints with an AWS side, and keys for these IAM users (by name)."""
    from dataclasses import replace

    from wiflab_core.endpoints import AwsKeys

    keys = {
        f"arn:aws:iam::{account}:user/{user}": AwsKeys.model_validate(
            {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "not-a-secret"}
        )
        for user, account in (("intern", "111122223333"), ("outsider", "444455556666"))
        if user in users
    }
    return replace(endpoints, aws_sts_url="http://127.0.0.1:3", aws_identities=keys)


def test_aws_profiles_pick_the_aws_provider_and_its_account(
    topology: Topology, endpoints: Endpoints
) -> None:
    plan = choose(topology, _with_aws(endpoints), profile="aws:ec2role")
    assert plan.provider_key == "aws-pool-1/aws-provider-1"
    assert plan.aws is not None and plan.aws.imds is True
    assert plan.claims == {
        "arn": "arn:aws:sts::111122223333:assumed-role/ec2role/i-01eb8a107a2026dcd",
        "account": "111122223333",
    }
    assert plan.account.email == AWS_FEDERATED
    # An OIDC profile never lands on the AWS provider, nor an AWS one on an OIDC provider.
    assert choose(topology, _with_aws(endpoints)).provider.aws is None


def test_aws_forecasts(topology: Topology, endpoints: Endpoints) -> None:
    aws = _with_aws(endpoints, "intern", "outsider")
    assert forecast(topology, aws, "aws:ec2role") == "passes, as aws-federated"
    assert forecast(topology, aws, "aws:outsider").startswith("STS refuses: AWS account")
    assert forecast(topology, aws, "aws:intern") == "STS refuses: attribute condition"


def test_aws_profiles_need_the_aws_side(topology: Topology, endpoints: Endpoints) -> None:
    with pytest.raises(PlanError, match="these endpoints have no local AWS side"):
        choose(topology, endpoints, profile="aws:ec2role")
    with pytest.raises(PlanError, match="its keys"):  # an IAM user's keys are not listed
        choose(topology, _with_aws(endpoints), profile="aws:svcacct1")

    with pytest.raises(PlanError, match="is an OIDC provider: it takes an AWS profile"):
        choose(topology, _with_aws(endpoints), "aws:ec2role", "oidc-pool-run/oidc-provider-1")
    with pytest.raises(PlanError, match="is an AWS provider: it takes an OIDC profile"):
        choose(topology, _with_aws(endpoints), "alice", "aws-pool-1/aws-provider-1")
