"""AWS providers in the topology: the account id, one provider type, Google's default mapping."""

from __future__ import annotations

import pytest

from mock_gcp.topology import TopologyError, parse_topology


def doc(provider: dict) -> dict:
    return {
        "project": {"id": "demo-project", "number": "123456789012"},
        "pools": [{"id": "aws-pool", "providers": [{"id": "aws-provider", **provider}]}],
    }


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ({"aws": {"accountId": "12345"}}, "the AWS account id must be 12 digits, not 5"),
        ({"aws": {"accountId": "11112222333x"}}, "the AWS account id must be all digits"),
        ({"aws": {}}, "accountId is required"),
        (
            {"aws": {"accountId": "111122223333"}, "oidc": {}},
            "exactly one of oidc or aws is required",
        ),
        ({}, "exactly one of oidc or aws is required"),
        ({"oidc": {}}, "attributeMapping is required"),
    ],
)
def test_refused_providers_say_why(provider: dict, message: str) -> None:
    with pytest.raises(TopologyError) as refused:
        parse_topology(doc(provider))
    assert refused.value.message.startswith(message), refused.value.message
    assert refused.value.path.startswith("pools[0].providers[0]")


def test_an_aws_provider_without_a_mapping_gets_googles_default() -> None:
    topology = parse_topology(doc({"aws": {"accountId": 111122223333}}))
    provider = topology.provider("aws-pool", "aws-provider")
    assert provider.aws.account_id == "111122223333"
    mapped = provider.attribute_mapping.apply(
        {"arn": "arn:aws:sts::111122223333:assumed-role/ec2role/i-0abc", "account": "1"}
    )
    assert mapped.subject == "arn:aws:sts::111122223333:assumed-role/ec2role/i-0abc"
    assert mapped.attributes["aws_role"] == "arn:aws:sts::111122223333:assumed-role/ec2role"
    user = provider.attribute_mapping.apply({"arn": "arn:aws:iam::111122223333:user/svcacct1"})
    assert user.attributes["aws_role"] == "arn:aws:iam::111122223333:user/svcacct1"
