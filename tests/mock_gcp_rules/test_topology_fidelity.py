"""What Google's IAM API refuses when a provider is created, refused when the topology loads,
with Google's text and the YAML path; and documented fields it accepts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mock_gcp.topology import TopologyError, parse_topology, topology_to_dict
from tests.mock_gcp_rules.conftest import minimal_doc
from wiflab_core import keys

MUST_READ_A_CLAIM = (
    "The attribute condition must reference one of the provider's claims. For more "
    "information, see https://cloud.google.com/iam/docs/"
    "workload-identity-federation-with-deployment-pipelines#conditions"
)
P0 = "pools[0].providers[0]"
SHARED = [
    "https://token.actions.githubusercontent.com",
    "https://gitlab.com",
    "https://app.terraform.io",
]


def _with_provider(**fields: Any) -> dict[str, Any]:
    doc = minimal_doc()
    doc["pools"][0]["providers"][0].update(fields)
    return doc


def _refusal(doc: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(TopologyError) as caught:
        parse_topology(doc)
    return caught.value.path, caught.value.message


@pytest.mark.parametrize("issuer", [*SHARED, "https://gitlab.com/"])
@pytest.mark.parametrize("condition", [None, "true", "1 == 1", "'assertion' == 'x'"])
def test_a_shared_issuer_needs_a_condition_that_reads_a_claim(issuer, condition):
    fields: dict[str, Any] = {"oidc": {"issuerUri": issuer}}
    if condition is not None:
        fields["attributeCondition"] = condition
    assert _refusal(_with_provider(**fields)) == (f"{P0}.attributeCondition", MUST_READ_A_CLAIM)


@pytest.mark.parametrize("issuer", SHARED)
@pytest.mark.parametrize(
    "condition",
    [
        "assertion.repository_owner == 'acme'",
        "attribute.project == 'a'",
        "google.subject != ''",
        "assertion['namespace_path'] == 'acme'",
    ],
)
def test_a_condition_reading_a_claim_is_accepted(issuer, condition):
    doc = _with_provider(oidc={"issuerUri": issuer}, attributeCondition=condition)
    assert parse_topology(doc).provider("pool-a", "prov-a").oidc.issuer_uri == issuer


def test_other_issuers_need_no_condition():
    doc = _with_provider(oidc={"issuerUri": "https://gitlab.example.com"})
    assert parse_topology(doc).provider("pool-a", "prov-a").attribute_condition is None


def _jwk(**fields: Any) -> dict[str, Any]:
    return {"kid": "k1", "use": "sig", **fields}


P384 = _jwk(kty="EC", crv="P-384", x="a" * 64, y="b" * 64, alg="ES384")
P521 = _jwk(kty="EC", crv="P-521", x="a" * 88, y="b" * 88, alg="ES512")
ED25519 = _jwk(
    kty="OKP", crv="Ed25519", x="11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", alg="EdDSA"
)


@pytest.mark.parametrize(
    ("jwk", "text"),
    [
        (P384, "Input jwks contains corrupted key material."),
        (P521, "Input jwks contains corrupted key material."),
        (ED25519, "Invalid JWKs: Only RSA, EC key types are supported."),
    ],
    ids=["P-384", "P-521", "Ed25519"],
)
def test_uploaded_keys_google_does_not_support_are_refused(jwk, text):
    good = keys.generate("RS256").public_jwk
    uploaded = json.dumps({"keys": [good, jwk]})
    doc = _with_provider(oidc={"issuerUri": "https://idp.example.com", "jwksJson": uploaded})
    assert _refusal(doc) == (f"{P0}.oidc.jwksJson.keys[1]", text)


def test_rsa_and_p256_keys_are_accepted():
    uploaded = json.dumps(
        keys.render_jwks([keys.generate(a).public_jwk for a in ("RS256", "ES256")])
    )
    doc = _with_provider(oidc={"issuerUri": "https://idp.example.com", "jwksJson": uploaded})
    assert parse_topology(doc).provider("pool-a", "prov-a").oidc.jwks_json == uploaded


def test_documented_fields_are_accepted_and_kept():
    doc = _with_provider(
        displayName="d" * 32,
        description="x" * 256,
        oidc={
            "issuerUri": "https://idp.example.com/tenant1",
            "discoveryUri": "https://idp.example.com/.well-known/openid-configuration/tenant1",
        },
    )
    topology = parse_topology(doc)
    provider = topology.provider("pool-a", "prov-a")
    assert (provider.display_name, provider.description) == ("d" * 32, "x" * 256)
    assert provider.oidc.discovery_uri.endswith("/tenant1")
    assert parse_topology(topology_to_dict(topology)) == topology


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({"displayName": "d" * 33}, f"{P0}.displayName", "longer than 32 characters"),
        ({"description": "x" * 257}, f"{P0}.description", "longer than 256 characters"),
        (
            {
                "oidc": {
                    "issuerUri": "https://a.example.com",
                    "discoveryUri": "http://a.example.com/.well-known/x",
                }
            },
            f"{P0}.oidc.discoveryUri",
            "must start with https://",
        ),
        (
            {
                "oidc": {
                    "issuerUri": "https://a.example.com",
                    "discoveryUri": "https://b.example.com/.well-known/x",
                }
            },
            f"{P0}.oidc.discoveryUri",
            "scheme, host and port must match issuerUri's",
        ),
        (
            {
                "oidc": {
                    "issuerUri": "https://a.example.com",
                    "discoveryUri": "https://a.example.com/config",
                }
            },
            f"{P0}.oidc.discoveryUri",
            "the path must contain /.well-known/ (such as /.well-known/openid-configuration)",
        ),
    ],
    ids=["display-name", "description", "discovery-http", "discovery-host", "discovery-path"],
)
def test_documented_limits(fields, path, message):
    assert _refusal(_with_provider(**fields)) == (path, message)
