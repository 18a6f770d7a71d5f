"""IAM Credentials over HTTP: who learns that an account does not exist, and exact subjects.

A project of its own: carol holds Token Creator on the whole project (so she may learn that
an account is missing: 404), bob holds nothing there (he gets the same 403 as a denied
permission), and two accounts are bound to subjects that differ only in case.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from mock_gcp.topology import parse_topology
from tests.mock_gcp.conftest import POOL, PROJECT_NUMBER, FakeIssuer, Google, serve_google

UPPER_SA = "upper-case@demo-project.iam.gserviceaccount.com"
LOWER_SA = "lower-case@demo-project.iam.gserviceaccount.com"
GHOST_SA = "ghost@demo-project.iam.gserviceaccount.com"


def subject(name: str) -> str:
    return f"principal://iam.googleapis.com/{POOL}/subject/{name}"


def workload_identity_user(member: str) -> dict:
    return {"bindings": [{"role": "roles/iam.workloadIdentityUser", "members": [member]}]}


TOPOLOGY = {
    "project": {"id": "demo-project", "number": PROJECT_NUMBER},
    "pools": [
        {
            "id": "test-pool",
            "providers": [
                {
                    "id": "lab-idp",
                    "attributeMapping": {"google.subject": "assertion.sub"},
                    "oidc": {},
                }
            ],
        }
    ],
    "serviceAccounts": [
        {"email": UPPER_SA, "policy": workload_identity_user(subject("Alice@domain.com"))},
        {"email": LOWER_SA, "policy": workload_identity_user(subject("alice@domain.com"))},
    ],
    "policy": {
        "bindings": [
            {
                "role": "roles/iam.serviceAccountTokenCreator",
                "members": [subject("carol@domain.com")],
            }
        ]
    },
}


@pytest.fixture(scope="module")
def google(issuer: FakeIssuer) -> Iterator[Google]:
    server, google = serve_google(parse_topology(TOPOLOGY), issuer.url)
    with server:
        yield google


def id_token_call(google: Google, issuer: FakeIssuer, sub: str, account: str) -> requests.Response:
    token = google.federated_token(issuer.mint(sub=sub))
    return google.iamcredentials(account, "generateIdToken", token, {"audience": "a"})


def test_unknown_account_is_404_for_a_caller_allowed_project_wide(google, issuer):
    response = id_token_call(google, issuer, "carol@domain.com", GHOST_SA)
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": 404,
            "message": f"Not found; Gaia id not found for email {GHOST_SA}",
            "status": "NOT_FOUND",
        }
    }


def test_unknown_account_is_403_for_anyone_else(google, issuer):
    response = id_token_call(google, issuer, "bob@domain.com", GHOST_SA)
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": 403,
            "message": (
                "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource "
                "(or it may not exist)."
            ),
            "status": "PERMISSION_DENIED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "IAM_PERMISSION_DENIED",
                    "domain": "iam.googleapis.com",
                    "metadata": {"permission": "iam.serviceAccounts.getOpenIdToken"},
                }
            ],
        }
    }


@pytest.mark.parametrize(
    ("sub", "account"),
    [("Alice@domain.com", UPPER_SA), ("alice@domain.com", LOWER_SA)],
)
def test_a_subject_binding_matches_its_exact_subject(google, issuer, sub, account):
    assert id_token_call(google, issuer, sub, account).status_code == 200


@pytest.mark.parametrize(
    ("sub", "account"),
    [("alice@domain.com", UPPER_SA), ("Alice@domain.com", LOWER_SA)],
    ids=["binding Alice, caller alice", "binding alice, caller Alice"],
)
def test_subjects_are_case_sensitive(google, issuer, sub, account):
    response = id_token_call(google, issuer, sub, account)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist)."
    )
