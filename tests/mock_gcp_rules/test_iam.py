"""Member strings, the callers they name, and find_grant's single decision."""

from __future__ import annotations

import pytest

from mock_gcp.cel import MappedAttributes
from mock_gcp.iam import PERMISSIONS_BY_ROLE, Caller, Grant, find_grant, validate_member
from mock_gcp.topology import Binding, Policy, Topology

NUMBER = "123456789012"
POOL = f"projects/{NUMBER}/locations/global/workloadIdentityPools/pool-a"
OTHER_POOL = f"projects/{NUMBER}/locations/global/workloadIdentityPools/pool-b"
SET = f"principalSet://iam.googleapis.com/{POOL}"
GET_TOKEN = "iam.serviceAccounts.getAccessToken"
GET_ID_TOKEN = "iam.serviceAccounts.getOpenIdToken"
INVOKE = "run.routes.invoke"


def alice(pool: str = POOL, **kwargs) -> Caller:
    mapped = MappedAttributes(
        "alice@domain.com",
        kwargs.get("groups", ("group1",)),
        kwargs.get("attributes", {"org_id": "org-acme", "teams": ("red", "blue")}),
    )
    return Caller.federated(pool, mapped)


SA = Caller("serviceAccount", "runner@demo-project.iam.gserviceaccount.com")
OTHER_SA = Caller("serviceAccount", "other@demo-project.iam.gserviceaccount.com")
USER = Caller("user", "admin@example.com")
ANONYMOUS = Caller("anonymous", "")


@pytest.mark.parametrize(
    "member",
    [
        "allUsers",
        "allAuthenticatedUsers",
        "user:admin@example.com",
        "serviceAccount:runner@demo-project.iam.gserviceaccount.com",
        "group:admins@example.com",
        "domain:example.com",
        f"principal://iam.googleapis.com/{POOL}/subject/alice@domain.com",
        f"principal://iam.googleapis.com/{POOL}/subject/arn:aws:iam::1:user/svc",
        f"{SET}/group/group1",
        f"{SET}/attribute.org_id/org-acme",
        f"{SET}/attribute.aws_role/arn:aws:sts::1:assumed-role/ec2role",
        f"{SET}/*",
    ],
)
def test_well_formed_members(member):
    assert validate_member(member) is None


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        ("serviceAccount:runner", "serviceAccount: needs an email address"),
        ("user:", "user: needs an email address"),
        ("domain:not a domain", "bad domain"),
        (f"principal://iam.googleapis.com/{POOL}/subject/", "expected principal://"),
        (f"principal://iam.googleapis.com/{POOL}/group/g", "expected principal://"),
        (f"principalSet://iam.googleapis.com/{POOL}/subject/x", "expected principal://"),
        (f"{SET}/attribute.Org/x", "attribute names may only contain [a-z0-9_]"),
        (f"{SET}/attribute.org_id", "attribute.NAME needs a /VALUE"),
        (f"principal://iam.example.com/{POOL}/subject/a", "expected principal://"),
        (
            "principal://iam.googleapis.com/projects/demo-project/locations/global/"
            "workloadIdentityPools/pool-a/subject/a",
            "use the project number, not the project id 'demo-project'",
        ),
        ("alice@domain.com", "unknown member 'alice@domain.com'"),
        (42, "a member is a string, not int"),
    ],
)
def test_malformed_members_say_why(member, problem):
    assert validate_member(member).startswith(problem)


def test_a_federated_caller_is_named_by_every_set_it_belongs_to():
    assert alice().members() == {
        "allUsers",
        f"principal://iam.googleapis.com/{POOL}/subject/alice@domain.com",
        f"{SET}/*",
        f"{SET}/group/group1",
        f"{SET}/attribute.org_id/org-acme",
        f"{SET}/attribute.teams/red",
        f"{SET}/attribute.teams/blue",
    }
    assert alice().principal() == f"principal://iam.googleapis.com/{POOL}/subject/alice@domain.com"


def test_principals_name_each_kind():
    assert SA.principal() == "serviceAccount:runner@demo-project.iam.gserviceaccount.com"
    assert USER.principal() == "user:admin@example.com"
    assert ANONYMOUS.members() == {"allUsers"}


def grant_to(member: str, role: str = "roles/iam.workloadIdentityUser") -> list[tuple[str, Policy]]:
    return [("serviceAccount runner", Policy((Binding(role, (member,)),)))]


@pytest.mark.parametrize(
    ("member", "matched", "not_matched"),
    [
        (
            f"principal://iam.googleapis.com/{POOL}/subject/alice@domain.com",
            [alice()],
            [alice(OTHER_POOL), SA, ANONYMOUS],
        ),
        (f"{SET}/group/group1", [alice()], [alice(groups=("group2",)), alice(OTHER_POOL)]),
        (
            f"{SET}/attribute.teams/blue",
            [alice()],
            [alice(attributes={"teams": "red"}), alice(attributes={})],
        ),
        (f"{SET}/attribute.org_id/org-acme", [alice()], [alice(attributes={"org_id": "org-x"})]),
        (f"{SET}/*", [alice(groups=(), attributes={})], [alice(OTHER_POOL), SA]),
        (
            "serviceAccount:Runner@demo-project.iam.gserviceaccount.com",
            [SA],
            [OTHER_SA, USER, alice()],
        ),
        ("user:admin@example.com", [USER], [SA, ANONYMOUS]),
        ("allAuthenticatedUsers", [SA, USER], [alice(), ANONYMOUS]),
        ("allUsers", [SA, USER, alice(), ANONYMOUS], []),
        ("group:admins@example.com", [], [USER, SA, alice()]),
        ("domain:example.com", [], [USER]),
    ],
    ids=[
        "principal",
        "group",
        "attribute-list-value",
        "attribute",
        "whole-pool",
        "serviceAccount-any-case",
        "user",
        "allAuthenticatedUsers",
        "allUsers",
        "google-group",
        "domain",
    ],
)
def test_each_member_kind_matches_exactly_its_callers(member, matched, not_matched):
    assert validate_member(member) is None
    policies = grant_to(member)
    for caller in matched:
        assert find_grant(caller, GET_TOKEN, policies) == Grant(
            "serviceAccount runner", "roles/iam.workloadIdentityUser", member
        ), caller
    for caller in not_matched:
        assert find_grant(caller, GET_TOKEN, policies) is None, caller


def test_find_grant_takes_the_first_binding_in_resource_order():
    member = f"{SET}/group/group1"
    policies = [
        ("serviceAccount runner", Policy((Binding("roles/run.invoker", (member,)),))),
        (
            "project demo-project",
            Policy((Binding("roles/iam.serviceAccountTokenCreator", (member,)),)),
        ),
        ("organization", Policy((Binding("roles/iam.workloadIdentityUser", (member,)),))),
    ]
    grant = find_grant(alice(), GET_TOKEN, policies)
    assert grant == Grant("project demo-project", "roles/iam.serviceAccountTokenCreator", member)
    assert str(grant) == (
        "roles/iam.serviceAccountTokenCreator on project demo-project via "
        f"principalSet://iam.googleapis.com/{POOL}/group/group1"
    )


def test_a_role_without_the_permission_grants_nothing():
    policies = grant_to(f"{SET}/*", role="roles/iam.serviceAccountOpenIdTokenCreator")
    assert find_grant(alice(), GET_ID_TOKEN, policies) is not None
    assert find_grant(alice(), GET_TOKEN, policies) is None
    assert find_grant(alice(), GET_TOKEN, []) is None


def test_roles_carry_googles_permissions():
    creator = PERMISSIONS_BY_ROLE["roles/iam.serviceAccountTokenCreator"]
    assert {GET_TOKEN, GET_ID_TOKEN, "iam.serviceAccounts.signBlob"} <= creator
    assert {"iam.serviceAccounts.signJwt", "iam.serviceAccounts.implicitDelegation"} <= creator
    assert (
        "iam.serviceAccounts.signBlob" not in PERMISSIONS_BY_ROLE["roles/iam.workloadIdentityUser"]
    )
    assert PERMISSIONS_BY_ROLE["roles/iam.serviceAccountOpenIdTokenCreator"] == {GET_ID_TOKEN}
    # Even an owner needs Token Creator to impersonate a service account.
    assert GET_TOKEN not in PERMISSIONS_BY_ROLE["roles/owner"]
    assert INVOKE in PERMISSIONS_BY_ROLE["roles/owner"]


def account_policies(wif: Topology, email: str) -> list[tuple[str, Policy]]:
    account = wif.service_account(email)
    return [
        (f"serviceAccount {account.email}", account.policy),
        ("project demo-project", wif.policy),
    ]


def mapped_caller(wif: Topology, pool: str, provider: str, profile: str) -> Caller:
    mapped = wif.provider(pool, provider).attribute_mapping.apply(wif.idp.claims(profile))
    return Caller.federated(wif.pool_name(pool), mapped)


def test_wif_yaml_grants_what_its_comments_promise(wif: Topology):
    oidc = "oidc-federated@demo-project.iam.gserviceaccount.com"
    target = "target-serviceaccount@demo-project.iam.gserviceaccount.com"
    bigquery = "bigquery-runner@demo-project.iam.gserviceaccount.com"
    alice_, carol, dave = (
        mapped_caller(wif, "oidc-pool-run", "oidc-provider-1", p)
        for p in ("alice", "carol", "dave")
    )
    acme = mapped_caller(wif, "tenant-pool", "tenant-provider", "acme-project")

    assert (
        "/subject/alice@domain.com"
        in find_grant(alice_, GET_ID_TOKEN, account_policies(wif, oidc)).member
    )
    assert find_grant(carol, GET_ID_TOKEN, account_policies(wif, oidc)).member.endswith(
        "/group/group1"
    )
    assert find_grant(dave, GET_ID_TOKEN, account_policies(wif, oidc)) is None

    assert find_grant(alice_, "iam.serviceAccounts.signBlob", account_policies(wif, target))
    assert find_grant(carol, GET_ID_TOKEN, account_policies(wif, target))
    assert find_grant(carol, GET_TOKEN, account_policies(wif, target)) is None

    assert find_grant(acme, GET_TOKEN, account_policies(wif, bigquery)).member.endswith(
        "/attribute.org_id/org-acme"
    )
    assert find_grant(alice_, GET_TOKEN, account_policies(wif, bigquery)) is None

    run = wif.service("federated-auth-cloud-run")
    service = [(f"service {run.name}", run.policy), ("project demo-project", wif.policy)]
    assert find_grant(Caller("serviceAccount", oidc), INVOKE, service)
    assert find_grant(Caller("serviceAccount", target), INVOKE, service) is None
    assert find_grant(alice_, "storage.objects.create", [("project demo-project", wif.policy)])
