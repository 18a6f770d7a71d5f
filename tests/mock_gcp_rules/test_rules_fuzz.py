"""Arbitrary input never escapes as anything but the rules' own error types."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_gcp.cel import (
    AttributeMapping,
    Condition,
    ConditionError,
    ConditionFailure,
    MappingError,
)
from mock_gcp.sts.exchange import mapping_refusal
from mock_gcp.topology import Topology, TopologyError, parse_topology, topology_to_dict
from tests.mock_gcp_rules.conftest import SA_ONE, minimal_doc

# No example database: tests must not share files outside tmp_path (pytest -n 2).
FUZZ = settings(
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

KEYS = [
    *("project", "id", "number", "pools", "providers", "disabled", "attributeMapping"),
    *("attributeCondition", "oidc", "issuerUri", "allowedAudiences", "jwksJson"),
    *("serviceAccounts", "email", "uniqueId", "policy", "bindings", "role", "members"),
    *("services", "name", "app", "allowUnauthenticated", "customAudiences", "idp", "profiles"),
    *("orgPolicy", "allowServiceAccountCredentialLifetimeExtension", "local"),
    *("metadataServiceAccount", "google.subject", "google.groups", "attribute.x"),
]
WORDS = [
    *("demo-project", "123456789012", "pool-a", "gcp-pool", "assertion.sub", "assertion.", "1 +"),
    *(SA_ONE, "roles/run.invoker", "roles/nope", "allUsers", "https://idp.example.com"),
    *('{"keys": []}', '{"keys": [{"x5c": []}]}', "principalSet://iam.googleapis.com/projects/1/"),
    "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool-a/subject/a",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(WORDS)
    | st.dates()
    | st.binary(max_size=4)
)
yamlish = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(KEYS) | st.text(max_size=8) | st.integers(), inner, max_size=5
        )
    ),
    max_leaves=25,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths(item, (*prefix, i))
    return found


def parse_or_topology_error(doc: Any) -> None:
    try:
        topology = parse_topology(doc)
    except TopologyError as exc:
        assert str(exc) == f"{exc.path}: {exc.message}"
        return
    assert parse_topology(topology_to_dict(topology)) == topology


@FUZZ
@given(yamlish)
def test_arbitrary_documents_only_raise_topology_errors(doc):
    parse_or_topology_error(doc)


@FUZZ
@given(st.data())
def test_a_valid_document_broken_anywhere_only_raises_topology_errors(data):
    doc = minimal_doc()
    where = data.draw(st.sampled_from(paths(doc)[1:]))
    target = doc
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = data.draw(yamlish)
    parse_or_topology_error(copy.deepcopy(doc))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
claims = st.dictionaries(
    st.sampled_from(["sub", "isadmin", "mygroups", "aud", "org_id", "owner_type", "teams"])
    | st.text(max_size=8),
    json_values | st.sampled_from(["true", "alice@domain.com", "org-acme"]),
    max_size=8,
)
EXTRA = AttributeMapping.compile(
    {
        "google.subject": "assertion.sub.extract('{user}@')",
        "google.groups": "assertion.mygroups.filter(g, g.startsWith('group'))",
        "attribute.teams": "assertion.teams.map(t, t + '-x')",
        "attribute.n": "string(size(assertion.sub))",
    }
)
EXTRA_CONDITION = Condition.compile(
    "assertion.iat < 10 || attribute.teams.exists(t, t == 'x') || 'group1' in google.groups"
)


@FUZZ
@given(claims)
def test_arbitrary_claims_only_raise_mapping_or_condition_errors(wif: Topology, token):
    cases = [(EXTRA, EXTRA_CONDITION)] + [
        (p.attribute_mapping, p.attribute_condition) for pool in wif.pools for p in pool.providers
    ]
    for mapping, condition in cases:
        try:
            mapped = mapping.apply(token)
        except MappingError as exc:
            codes = {"invalid_request", "unauthorized_client", "invalid_grant"}
            assert mapping_refusal(exc).error in codes
            continue
        assert isinstance(mapped.subject, str) and len(mapped.subject.encode()) <= 127
        try:
            assert condition.allows(token, mapped) in (True, False)
        except ConditionError as exc:
            assert exc.failure in ConditionFailure
