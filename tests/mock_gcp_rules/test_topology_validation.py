"""One case per validation rule: the broken document, the exact path and the exact message."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest

from mock_gcp.topology import TopologyError, parse_topology
from tests.mock_gcp_rules.conftest import ALICE, NUMBER, SA_ONE, minimal_doc
from wiflab_core.keys import generate

Doc = dict[str, Any]
P0 = "pools[0].providers[0]"
P1 = "pools[0].providers[1]"
ROLES = (
    "roles/editor, roles/iam.serviceAccountOpenIdTokenCreator, "
    "roles/iam.serviceAccountTokenCreator, roles/iam.serviceAccountUser, "
    "roles/iam.workloadIdentityUser, roles/owner, roles/run.invoker, roles/storage.objectAdmin, "
    "roles/storage.objectViewer, roles/viewer"
)


def provider(doc: Doc, i: int = 0) -> Doc:
    return doc["pools"][0]["providers"][i]


def sa_binding(doc: Doc) -> Doc:
    return doc["serviceAccounts"][0]["policy"]["bindings"][0]


def put(getter: Callable[[Doc], Doc], key: str, value: Any) -> Callable[[Doc], None]:
    return lambda doc: getter(doc).__setitem__(key, value)


def delete(getter: Callable[[Doc], Doc], key: str) -> Callable[[Doc], None]:
    return lambda doc: getter(doc).__delitem__(key)


def mapping(extra: dict[str, str]) -> Callable[[Doc], None]:
    return lambda doc: provider(doc)["attributeMapping"].update(extra)


def jwks(keys: list[dict[str, Any]] | str) -> Callable[[Doc], None]:
    text = keys if isinstance(keys, str) else json.dumps({"keys": keys})
    return lambda doc: provider(doc)["oidc"].__setitem__("jwksJson", text)


def root(doc: Doc) -> Doc:
    return doc


# A public key made at run time; its kid is replaced to make distinct entries.
PUBLIC_JWK = dict(generate("ES256").public_jwk)

CASES: list[tuple[str, Callable[[Doc], None], str, str]] = [
    # required fields, types and unknown keys
    ("project required", delete(root, "project"), "topology", "project is required"),
    (
        "unknown top-level key",
        lambda d: d.__setitem__("pool", []),
        "pool",
        "unknown key; did you mean 'pools'? expected one of: project, pools, serviceAccounts, "
        "services, policy, idp, orgPolicy, local",
    ),
    (
        "unknown provider key",
        lambda d: provider(d).__setitem__("attributeMaping", provider(d).pop("attributeMapping")),
        f"{P0}.attributeMaping",
        "unknown key; did you mean 'attributeMapping'? expected one of: id, attributeMapping, "
        "oidc, aws, disabled, attributeCondition, displayName, description",
    ),
    (
        "project is a mapping",
        put(root, "project", "demo"),
        "project",
        "must be a mapping, not a string",
    ),
    (
        "pools is a list",
        put(root, "pools", {"id": "pool-a"}),
        "pools",
        "must be a list, not a mapping",
    ),
    (
        "disabled is a bool",
        put(lambda d: d["pools"][0], "disabled", "yes"),
        "pools[0].disabled",
        "must be true or false, not 'yes'",
    ),
    (
        "oidc or aws required",
        delete(provider, "oidc"),
        P0,
        "exactly one of oidc or aws is required",
    ),
    # project
    (
        "project number digits",
        put(lambda d: d["project"], "number", "12345abc"),
        "project.number",
        "the project number must be all digits, not '12345abc'",
    ),
    (
        "project id format",
        put(lambda d: d["project"], "id", "Demo"),
        "project.id",
        "'Demo' is not a project id (6-30 of [a-z0-9-], a letter first)",
    ),
    # pool and provider ids
    (
        "pool id too short",
        put(lambda d: d["pools"][0], "id", "abc"),
        "pools[0].id",
        "'abc' is not a valid pool id (4-32 of [a-z0-9-])",
    ),
    (
        "pool id characters",
        put(lambda d: d["pools"][0], "id", "Pool_A"),
        "pools[0].id",
        "'Pool_A' is not a valid pool id (4-32 of [a-z0-9-])",
    ),
    (
        "pool id gcp- prefix",
        put(lambda d: d["pools"][0], "id", "gcp-pool"),
        "pools[0].id",
        "the prefix 'gcp-' is reserved by Google ('gcp-pool')",
    ),
    (
        "provider id too long",
        put(provider, "id", "p" * 33),
        f"{P0}.id",
        f"'{'p' * 33}' is not a valid provider id (4-32 of [a-z0-9-])",
    ),
    # duplicates
    (
        "duplicate pool",
        lambda d: d["pools"].append({"id": "pool-a"}),
        "pools[1]",
        "duplicate pool id 'pool-a'",
    ),
    (
        "duplicate provider",
        put(lambda d: provider(d, 1), "id", "prov-a"),
        P1,
        "duplicate provider id 'prov-a'",
    ),
    (
        "duplicate service account (any case)",
        lambda d: d["serviceAccounts"].append({"email": SA_ONE.upper()}),
        "serviceAccounts[1]",
        f"duplicate service account '{SA_ONE}'",
    ),
    (
        "duplicate unique id",
        lambda d: d["serviceAccounts"].extend(
            [
                {"email": "sa-two@demo-project.iam.gserviceaccount.com", "uniqueId": "1" * 21},
                {"email": "sa-three@demo-project.iam.gserviceaccount.com", "uniqueId": "1" * 21},
            ]
        ),
        "serviceAccounts[2].uniqueId",
        f"duplicate {'1' * 21}",
    ),
    (
        "duplicate service",
        lambda d: d["services"].append({"name": "svc", "app": "idp_server"}),
        "services[1]",
        "duplicate service 'svc'",
    ),
    # attributeMapping
    (
        "google.subject required",
        lambda d: provider(d, 1).__setitem__("attributeMapping", {"attribute.x": "assertion.x"}),
        f"{P1}.attributeMapping",
        "google.subject is required",
    ),
    (
        "attribute name characters",
        mapping({"attribute.Bad": "assertion.x"}),
        f"{P0}.attributeMapping['attribute.Bad']",
        "custom attribute names may only contain [a-z0-9_]",
    ),
    (
        "attribute name length",
        mapping({"attribute." + "a" * 101: "assertion.x"}),
        f"{P0}.attributeMapping['attribute.{'a' * 101}']",
        "custom attribute names are at most 100 characters",
    ),
    (
        "unsupported google key",
        mapping({"google.display_name": "assertion.name"}),
        f"{P0}.attributeMapping['google.display_name']",
        "unsupported attribute; use google.subject, google.groups or attribute.NAME",
    ),
    (
        "at most 50 custom attributes",
        mapping({f"attribute.a{i}": "assertion.x" for i in range(51)}),
        f"{P0}.attributeMapping",
        "at most 50 custom attributes are allowed, not 51",
    ),
    (
        "mapping expression length",
        mapping({"google.subject": "assertion.sub" + " " * (2049 - len("assertion.sub"))}),
        f"{P0}.attributeMapping['google.subject']",
        "the expression is longer than 2048 characters",
    ),
    (
        "mapping does not compile",
        mapping({"google.subject": "assertion.sub +"}),
        f"{P0}.attributeMapping['google.subject']",
        "ERROR: <input>:1:15: Syntax error: unexpected end of expression",
    ),
    (
        "mapping names an undeclared variable",
        mapping({"attribute.admin": "assertoin.isadmin"}),
        f"{P0}.attributeMapping['attribute.admin']",
        "undeclared reference to 'assertoin'",
    ),
    (
        "mapping cannot see google",
        mapping({"attribute.s": "google.subject"}),
        f"{P0}.attributeMapping['attribute.s']",
        "undeclared reference to 'google'",
    ),
    # attributeCondition
    (
        "condition length",
        put(provider, "attributeCondition", "true" + " " * 4093),
        f"{P0}.attributeCondition",
        "the expression is longer than 4096 characters",
    ),
    (
        "condition does not compile",
        put(provider, "attributeCondition", "attribute.isadmin = 'true'"),
        f"{P0}.attributeCondition",
        "ERROR: <input>:1:19: Syntax error: unexpected character '='",
    ),
    (
        "condition calls an unknown function",
        put(provider, "attributeCondition", "assertion.sub.frobnicate()"),
        f"{P0}.attributeCondition",
        "undeclared reference to 'frobnicate'",
    ),
    # oidc
    (
        "at most 10 audiences",
        put(lambda d: provider(d)["oidc"], "allowedAudiences", [f"a{i}" for i in range(11)]),
        f"{P0}.oidc.allowedAudiences",
        "at most 10 audiences, not 11",
    ),
    (
        "audience length",
        put(lambda d: provider(d)["oidc"], "allowedAudiences", ["a" * 257]),
        f"{P0}.oidc.allowedAudiences[0]",
        "longer than 256 characters",
    ),
    (
        "audiences are strings",
        put(lambda d: provider(d)["oidc"], "allowedAudiences", [42]),
        f"{P0}.oidc.allowedAudiences[0]",
        "must be a non-empty string, not a number",
    ),
    (
        "issuer is https",
        put(lambda d: provider(d)["oidc"], "issuerUri", "http://idp.example.com"),
        f"{P0}.oidc.issuerUri",
        "must be an https:// URL (leave it out to use this lab's own fake IdP)",
    ),
    (
        "jwks is JSON",
        jwks("{not json"),
        f"{P0}.oidc.jwksJson",
        "Input JWK is not in a valid json format",
    ),
    (
        "jwks rejects x5c",
        jwks([{**PUBLIC_JWK, "x5c": ["MIIB"]}]),
        f"{P0}.oidc.jwksJson",
        "Input JWK is not in a valid json format",
    ),
    (
        "jwks rejects x5t",
        jwks([{**PUBLIC_JWK, "x5t": "abc"}]),
        f"{P0}.oidc.jwksJson",
        "Input JWK is not in a valid json format",
    ),
    (
        "jwks at most 8 keys",
        jwks([{**PUBLIC_JWK, "kid": f"k{i}"} for i in range(9)]),
        f"{P0}.oidc.jwksJson",
        "at most 8 keys are allowed, not 9",
    ),
    # service accounts
    (
        "service account email",
        put(lambda d: d["serviceAccounts"][0], "email", "not-an-email"),
        "serviceAccounts[0].email",
        "'not-an-email' is not an email address",
    ),
    (
        "service account name",
        put(lambda d: d["serviceAccounts"][0], "email", "sa@demo-project.iam.gserviceaccount.com"),
        "serviceAccounts[0].email",
        "service account name 'sa' must be 6-30 of [a-z0-9-], a letter first",
    ),
    (
        "unique id is 21 digits",
        put(lambda d: d["serviceAccounts"][0], "uniqueId", "12345"),
        "serviceAccounts[0].uniqueId",
        "a unique id must be 21 digits, not 5",
    ),
    # policies
    (
        "member uses the project number",
        put(sa_binding, "members", [ALICE.replace(NUMBER, "demo-project")]),
        "serviceAccounts[0].policy.bindings[0].members[0]",
        "use the project number, not the project id 'demo-project'",
    ),
    (
        "member kind",
        put(sa_binding, "members", ["alice@domain.com"]),
        "serviceAccounts[0].policy.bindings[0].members[0]",
        "unknown member 'alice@domain.com': expected allUsers, allAuthenticatedUsers, user:EMAIL, "
        "serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, principal://iam.googleapis.com/"
        "projects/PROJECT_NUMBER/locations/global/workloadIdentityPools/POOL_ID/subject/SUBJECT, "
        "or principalSet://iam.googleapis.com/projects/PROJECT_NUMBER/locations/global/"
        "workloadIdentityPools/POOL_ID/ followed by group/GROUP, attribute.NAME/VALUE or *",
    ),
    (
        "role is known",
        put(sa_binding, "role", "roles/iam.workloadIdentityUsr"),
        "serviceAccounts[0].policy.bindings[0].role",
        f"unknown role 'roles/iam.workloadIdentityUsr'; this lab knows: {ROLES}",
    ),
    (
        "binding has members",
        put(sa_binding, "members", []),
        "serviceAccounts[0].policy.bindings[0].members",
        "a binding needs at least one member",
    ),
    (
        "policy keys",
        put(lambda d: d["policy"], "etag", "BwX"),
        "policy.etag",
        "unknown key; expected one of: bindings",
    ),
    # services
    (
        "custom audiences are strings",
        put(lambda d: d["services"][0], "customAudiences", [1]),
        "services[0].customAudiences[0]",
        "must be a non-empty string, not a number",
    ),
    (
        "service name",
        put(lambda d: d["services"][0], "name", "My_Service"),
        "services[0].name",
        "'My_Service' is not a Cloud Run service name",
    ),
    (
        "a service runs one of this repository's apps",
        put(lambda d: d["services"][0], "app", "protectd_app"),
        "services[0].app",
        "must be one of protected_app, idp_server, not 'protectd_app'",
    ),
    # idp profiles, org policy, local
    (
        "profile name",
        put(lambda d: d["idp"], "profiles", {"al ice": {"sub": "a"}}),
        "idp.profiles.al ice",
        "profile names are 1-64 of [A-Za-z0-9_-]",
    ),
    (
        "claims are JSON",
        put(lambda d: d["idp"]["profiles"]["alice"], "iat", datetime.date(2024, 1, 1)),
        "idp.profiles.alice.iat",
        "claims are JSON values, not a date (quote it)",
    ),
    (
        "lifetime extension names a declared account",
        put(
            root,
            "orgPolicy",
            {
                "allowServiceAccountCredentialLifetimeExtension": [
                    "x-account@demo-project.iam.gserviceaccount.com"
                ]
            },
        ),
        "orgPolicy.allowServiceAccountCredentialLifetimeExtension[0]",
        "'x-account@demo-project.iam.gserviceaccount.com' is not one of serviceAccounts",
    ),
    (
        "metadata account is declared",
        put(
            root,
            "local",
            {"metadataServiceAccount": "x-account@demo-project.iam.gserviceaccount.com"},
        ),
        "local.metadataServiceAccount",
        "'x-account@demo-project.iam.gserviceaccount.com' is not one of serviceAccounts",
    ),
    (
        "local keys",
        put(root, "local", {"metadataAccount": SA_ONE}),
        "local.metadataAccount",
        "unknown key; did you mean 'metadataServiceAccount'? "
        "expected one of: metadataServiceAccount, aws",
    ),
    (
        "local aws identity arn",
        put(root, "local", {"aws": {"identities": [{"arn": "arn:aws:iam::1:user/x"}]}}),
        "local.aws.identities[0].arn",
        "'arn:aws:iam::1:user/x' is not arn:aws:iam::ACCOUNT:user/NAME (an IAM user) or "
        "arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION (an assumed role); ACCOUNT is 12 digits",
    ),
    (
        "local aws imds on a user",
        put(
            root,
            "local",
            {"aws": {"identities": [{"arn": "arn:aws:iam::111122223333:user/x", "imds": True}]}},
        ),
        "local.aws.identities[0].imds",
        "imds: true needs an assumed-role ARN (the instance's role)",
    ),
]


def test_the_minimal_document_is_valid():
    topology = parse_topology(minimal_doc())
    assert topology.provider("pool-a", "prov-b").oidc.allowed_audiences == ("aud",)


@pytest.mark.parametrize(
    ("break_it", "path", "message"),
    [pytest.param(b, p, m, id=name) for name, b, p, m in CASES],
)
def test_each_rule_names_its_path(break_it, path, message):
    doc = minimal_doc()
    break_it(doc)
    with pytest.raises(TopologyError) as caught:
        parse_topology(doc)
    assert (caught.value.path, caught.value.message) == (path, message)
    assert str(caught.value) == f"{path}: {message}"


def test_a_jwk_that_does_not_parse_says_why():
    doc = minimal_doc()
    jwks([{"kty": "RSA", "n": "!!", "e": "AQAB"}])(doc)
    with pytest.raises(TopologyError) as caught:
        parse_topology(doc)
    assert caught.value.path == f"{P0}.oidc.jwksJson"
    assert caught.value.message.startswith("Input JWK is not in a valid json format (keys[0]:")


def test_limits_are_inclusive():
    doc = minimal_doc()
    mapping({f"attribute.a{i}": "assertion.x" for i in range(50)})(doc)
    mapping({"google.subject": "assertion.sub" + " " * (2048 - len("assertion.sub"))})(doc)
    provider(doc)["attributeCondition"] = "true" + " " * 4092
    provider(doc)["oidc"] = {
        "allowedAudiences": [f"{i}" + "a" * 255 for i in range(10)],
        "jwksJson": json.dumps({"keys": [{**PUBLIC_JWK, "kid": f"k{i}"} for i in range(8)]}),
    }
    parsed = parse_topology(doc).provider("pool-a", "prov-a")
    assert len(parsed.oidc.allowed_audiences) == 10
    assert len(parsed.attribute_mapping.source) == 51


def test_yaml_numbers_and_other_emails_are_accepted():
    doc = minimal_doc()
    doc["project"]["number"] = int(NUMBER)
    doc["serviceAccounts"].append(
        {"email": f"{NUMBER}-compute@developer.gserviceaccount.com", "uniqueId": 10**20 + 7}
    )
    topology = parse_topology(doc)
    assert topology.project_number == NUMBER
    assert topology.service_account(str(10**20 + 7)).email.endswith("developer.gserviceaccount.com")
