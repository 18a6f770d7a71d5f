"""Attribute mapping and condition semantics, on the seeds' tokens and at the limits."""

from __future__ import annotations

import pytest

from mock_gcp.cel import (
    AttributeMapping,
    CelCompileError,
    Condition,
    ConditionError,
    MappedAttributes,
    MappingError,
)
from mock_gcp.sts.exchange import (
    condition_refusal,
    map_and_check,
    mapping_refusal,
)
from mock_gcp.topology import Topology

SEED_MAPPING = {
    "google.subject": "assertion.sub",
    "google.groups": "assertion.mygroups",
    "attribute.isadmin": "assertion.isadmin",
    "attribute.aud": "assertion.aud",
}
SUBJECT_NOT_STRING = "The mapped attribute 'google.subject' must be of type STRING."
# Google's texts, word for word (reference/gcp-wif-behaviour.md).
CONDITION_REJECTED = "The given credential is rejected by the attribute condition."
SUBJECT_TOO_LONG = (
    "The size of mapped attribute google.subject exceeds the 127 bytes limit. Either modify your "
    "attribute mapping or the incoming assertion to produce a mapped attribute that is less than "
    "127 bytes."
)
MAPPED_TOO_LARGE = (
    "The size of mapped attributes exceeds the 8192 bytes limit. Either modify your attribute "
    "mapping or the incoming assertion to produce mapped attributes that are less than 8192 bytes."
)


def sts_says(error: MappingError | ConditionError) -> tuple[int, str, str]:
    """What STS answers for this mapping or condition failure."""
    refused = mapping_refusal(error) if isinstance(error, MappingError) else condition_refusal()
    return refused.status, refused.error, refused.description


def seed_token(**overrides: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "sub": "alice@domain.com",
        "isadmin": "true",
        "mygroups": ["group1", "group2"],
        "aud": "https://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
        "iat": 1644594560,
        "exp": 1644598160,
        "email_verified": True,
    }
    claims.update(overrides)
    return claims


@pytest.fixture(scope="module")
def seed_mapping() -> AttributeMapping:
    return AttributeMapping.compile(SEED_MAPPING)


def test_alice_maps_to_subject_groups_and_attributes(seed_mapping):
    mapped = seed_mapping.apply(seed_token())
    assert mapped.subject == "alice@domain.com"
    assert mapped.groups == ("group1", "group2")
    assert dict(mapped.attributes) == {"isadmin": "true", "aud": seed_token()["aud"]}
    assert mapped.google() == {"subject": "alice@domain.com", "groups": ["group1", "group2"]}


def test_seed_001_condition_admits_admins_only(wif: Topology):
    provider = wif.provider("oidc-pool-run", "oidc-provider-1")
    for profile, admitted in [("alice", True), ("bob", False), ("carol", True), ("dave", True)]:
        claims = wif.idp.claims(profile)
        mapped = provider.attribute_mapping.apply(claims)
        assert provider.attribute_condition.allows(claims, mapped) is admitted, profile


def test_a_refused_credential_gets_stss_words(wif: Topology):
    provider = wif.provider("oidc-pool-run", "oidc-provider-1")
    claims = wif.idp.claims("bob")
    refused = map_and_check(wif, provider, claims).error
    assert refused is not None
    assert (refused.error, refused.description) == ("unauthorized_client", CONDITION_REJECTED)


def test_seed_000_pool_is_pinned_to_one_tenant(wif: Topology):
    provider = wif.provider("tenant-pool", "tenant-provider")
    acme = wif.idp.claims("acme-project")
    other = wif.idp.claims("other-tenant")
    acme_mapped = provider.attribute_mapping.apply(acme)
    assert acme_mapped.attributes["org_id"] == "org-acme"
    assert provider.attribute_condition.allows(acme, acme_mapped)
    assert not provider.attribute_condition.allows(other, provider.attribute_mapping.apply(other))


def test_a_boolean_yaml_claim_does_not_pass_a_string_condition(seed_mapping):
    condition = Condition.compile("attribute.isadmin == 'true'")
    with pytest.raises(MappingError):
        seed_mapping.apply(seed_token(isadmin=True))
    mapped = MappedAttributes("alice")
    with pytest.raises(ConditionError):
        condition.allows(seed_token(), mapped)


@pytest.mark.parametrize(
    "subject",
    ["a" * 127, "é" * 63 + "a", "日本" * 21 + "a"],
    ids=["ascii", "two-byte", "three-byte"],
)
def test_a_subject_of_exactly_127_bytes_is_accepted(seed_mapping, subject):
    assert len(subject.encode("utf-8")) == 127
    assert seed_mapping.apply(seed_token(sub=subject)).subject == subject


@pytest.mark.parametrize(
    "subject", ["a" * 128, "é" * 64, "日本" * 21 + "ab"], ids=["ascii", "two-byte", "three-byte"]
)
def test_a_subject_of_128_bytes_is_refused(seed_mapping, subject):
    assert len(subject.encode("utf-8")) == 128
    with pytest.raises(MappingError) as caught:
        seed_mapping.apply(seed_token(sub=subject))
    assert sts_says(caught.value) == (400, "invalid_request", SUBJECT_TOO_LONG)


@pytest.mark.parametrize(
    "claims",
    [{"sub": True}, {"sub": ["alice"]}, {"sub": None}, {}],
    ids=["bool", "list", "null", "missing"],
)
def test_a_subject_that_is_not_a_string_is_refused(seed_mapping, claims):
    token = seed_token()
    del token["sub"]
    token.update(claims)
    with pytest.raises(MappingError) as caught:
        seed_mapping.apply(token)
    assert sts_says(caught.value)[1:] == ("unauthorized_client", SUBJECT_NOT_STRING)


def test_an_attribute_whose_claim_is_missing_is_left_unset(seed_mapping):
    token = seed_token()
    del token["aud"], token["mygroups"]
    mapped = seed_mapping.apply(token)
    assert "aud" not in mapped.attributes
    assert mapped.groups == ()


def test_groups_must_be_a_list_of_strings(seed_mapping):
    for bad in ("group1", ["group1", 2]):
        with pytest.raises(MappingError) as caught:
            seed_mapping.apply(seed_token(mygroups=bad))
        assert sts_says(caught.value)[2] == (
            "The mapped attribute 'google.groups' must be of type LIST."
        )


def test_attributes_are_strings_or_lists_of_strings():
    mapping = AttributeMapping.compile(
        {"google.subject": "assertion.sub", "attribute.teams": "assertion.teams"}
    )
    assert mapping.apply({"sub": "a", "teams": ["x", "y"]}).attributes["teams"] == ("x", "y")
    with pytest.raises(MappingError) as caught:
        mapping.apply({"sub": "a", "teams": 3})
    assert sts_says(caught.value)[2] == (
        "The mapped attribute 'attribute.teams' must be of type STRING or LIST."
    )


def test_mapped_attributes_are_limited_to_8_kb():
    mapping = AttributeMapping.compile(
        {"google.subject": "assertion.sub", "google.groups": "assertion.g"}
    )
    fits = {"sub": "a", "g": ["x" * 4095, "y" * 4096]}
    assert mapping.apply(fits).groups[1] == "y" * 4096
    with pytest.raises(MappingError) as caught:
        mapping.apply({"sub": "a", "g": ["x" * 4096, "y" * 4096]})
    assert sts_says(caught.value)[1:] == ("invalid_request", MAPPED_TOO_LARGE)


@pytest.mark.parametrize(
    ("expression", "subject", "expected"),
    [
        ("assertion.sub.extract('{user}@')", "alice@domain.com", "alice"),
        ("assertion.sub.extract('@{domain}')", "alice@domain.com", "domain.com"),
        (
            "assertion.arn.extract('assumed-role/{role}/')",
            "arn:aws:sts::1:assumed-role/ec2role/i-01",
            "ec2role",
        ),
        ("assertion.sub.extract('tenant:{kind}:')", "alice@domain.com", ""),
        ("assertion.sub.extract('{user}#')", "alice@domain.com", ""),
    ],
)
def test_extract_returns_what_the_placeholder_stands_for(expression, subject, expected):
    mapping = AttributeMapping.compile({"google.subject": "'s'", "attribute.x": expression})
    mapped = mapping.apply({"sub": subject, "arn": subject})
    assert mapped.attributes["x"] == expected


def test_extract_works_in_a_condition_too():
    condition = Condition.compile("assertion.sub.extract('{user}@domain.com') == 'alice'")
    mapped = MappedAttributes("alice@domain.com")
    assert condition.allows({"sub": "alice@domain.com"}, mapped)
    assert not condition.allows({"sub": "bob@domain.com"}, mapped)
    bad_template = Condition.compile("assertion.sub.extract('no placeholder') == ''")
    with pytest.raises(ConditionError):
        bad_template.allows({"sub": "alice"}, mapped)


def test_googles_azure_devops_mapping_splits_the_subject():
    """Google's template for Azure DevOps, whose subjects exceed 127 bytes, is
    google.subject=assertion.sub.split('/sc/')[1] (workload-identity-federation-with-
    deployment-pipelines): CEL's strings extension split() must exist."""
    prefix = "p://vstoken.dev.azure.com/" + "8b2e2b4a-1c3d-4e5f-a6b7-c8d9e0f1a2b3/" * 3
    mapping = AttributeMapping.compile({"google.subject": "assertion.sub.split('/sc/')[1]"})
    assert mapping.apply({"sub": prefix + "sc/deploy-connection"}).subject == "deploy-connection"
    condition = Condition.compile("assertion.sub.split('/').size() > 3")
    assert condition.allows({"sub": "a/b/c/d"}, MappedAttributes("s"))
    assert not condition.allows({"sub": "a/b"}, MappedAttributes("s"))


def test_the_condition_sees_google_and_attribute():
    condition = Condition.compile(
        "google.subject.endsWith('@domain.com') && 'group1' in google.groups "
        "&& attribute.teams.exists(t, t == 'blue')"
    )
    mapped = MappedAttributes("alice@domain.com", ("group1",), {"teams": ("red", "blue")})
    assert condition.allows({}, mapped)
    assert not condition.allows(
        {}, MappedAttributes("alice@domain.com", ("group2",), mapped.attributes)
    )


@pytest.mark.parametrize(
    "expression",
    ["assertion.missing == 'x'", "assertion.sub + 1 == 2", "'yes'", "assertion.sub.matches('[')"],
    ids=["missing-claim", "type-error", "not-a-bool", "bad-regex"],
)
def test_a_condition_that_does_not_yield_a_bool_rejects(expression):
    with pytest.raises(ConditionError) as caught:
        Condition.compile(expression).allows({"sub": "alice"}, MappedAttributes("alice"))
    assert sts_says(caught.value)[1:] == ("unauthorized_client", CONDITION_REJECTED)


def test_compile_errors_name_the_mapping_key():
    with pytest.raises(CelCompileError) as caught:
        AttributeMapping.compile({"google.subject": "assertion.sub", "attribute.x": "assertion."})
    assert caught.value.key == "attribute.x"
    assert str(caught.value) == f"attribute.x: {caught.value.message}"
    assert caught.value.message.startswith("ERROR: <input>:1:")


def test_macros_bind_their_variable_only_inside():
    Condition.compile("assertion.groups.all(g, g.startsWith('team-'))")
    with pytest.raises(CelCompileError) as caught:
        Condition.compile("assertion.groups.all(g, true) && g == 'x'")
    assert caught.value.message == "undeclared reference to 'g'"


def test_compiled_expressions_compare_by_source():
    assert AttributeMapping.compile(SEED_MAPPING) == AttributeMapping.compile(dict(SEED_MAPPING))
    assert Condition.compile("true") == Condition.compile("true") != Condition.compile("false")


def test_evaluation_leaves_the_claims_alone(seed_mapping):
    token = seed_token()
    before = repr(token)
    seed_mapping.apply(token)
    Condition.compile("attribute.isadmin == 'true'").allows(token, seed_mapping.apply(token))
    assert repr(token) == before


@pytest.mark.parametrize(
    "expression",
    ["timestamp('2020-01-01T00:00:00Z')", "duration('1s')", "b'bytes'", "type(1)"],
)
def test_values_json_has_no_form_for_are_no_bool_and_no_attribute(expression):
    """Whichever CEL runtime evaluates them: a refusal in Google's words, never an error."""
    with pytest.raises(ConditionError) as caught:
        Condition.compile(expression).allows({"sub": "alice"}, MappedAttributes("alice"))
    assert sts_says(caught.value)[1:] == ("unauthorized_client", CONDITION_REJECTED)
    mapping = AttributeMapping.compile(
        {"google.subject": "assertion.sub", "attribute.x": expression}
    )
    with pytest.raises(MappingError) as refused:
        mapping.apply({"sub": "alice"})
    assert refused.value.key == "attribute.x"
