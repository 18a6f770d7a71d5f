"""Projects as namespaces: two CI jobs' projects on one Google side, each chain through the
official clients (google-auth, google-cloud-iam's IAMCredentialsClient) and a Cloud Run
front end; neither can use the other's providers, secrets or accounts; deleting one leaves
the other working and kills its own tokens at use time. Google's texts are the reference's
(gcp-wif-behaviour.md), written out here."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import Request

from e2e.chain import OWNER_SCOPES
from tests.namespaces.conftest import A_NUMBER, Lab, project_document
from wiflab_core import external_account
from wiflab_lab.testing import ExternalAccounts, WifProject, WifStack, credentials_from_info

B_NUMBER, B_ID = "222233334444", "team-b-project"
C_NUMBER, C_ID = "555566667777", "team-c-project"

BAD_TARGET = (
    'The target service indicated by the "audience" parameters is invalid. This might either '
    "be because the pool or provider is disabled or deleted or because it doesn't exist."
)
GET_ACCESS_TOKEN_DENIED = (
    "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."
)


def run_chain(view: WifStack, tmp_path: Path, front_url: str) -> requests.Response:
    """alice's chain in ``view``'s project: STS, generateAccessToken (impersonation),
    generateIdToken (direct federation), then the project's Cloud Run service."""
    tmp_path.mkdir(exist_ok=True)
    accounts = ExternalAccounts(view, tmp_path)
    federated = accounts.credentials(profile="alice")
    impersonated = accounts.credentials(
        profile="alice", service_account="oidc-federated", scopes=OWNER_SCOPES
    )
    impersonated.refresh(Request())
    owner = requests.get(
        view.endpoints.google_issuer.tokeninfo,
        params={"access_token": impersonated.token},
        timeout=10,
    )
    assert owner.json()["email"] == view.account("oidc-federated"), owner.text
    id_token = federated_id_token(view, federated, front_url)
    return requests.get(front_url, headers={"Authorization": f"Bearer {id_token}"}, timeout=10)


def federated_id_token(view: WifStack, federated: object, audience: str) -> str:
    """generateIdToken for the project's oidc-federated, through IAMCredentialsClient."""
    account = view.account("oidc-federated")
    answer = view.iam_client(federated).generate_id_token(
        name=f"projects/-/serviceAccounts/{account}", audience=audience, include_email=True
    )
    return str(answer.token)


def test_a_chain_in_each_project_works(lab: Lab, tmp_path: Path) -> None:
    stack, put_project, front_ends = lab.stack, lab.put, lab.front_end
    b = put_project(B_NUMBER, B_ID)
    assert b.secret, "a new project's first PUT hands out its secret"
    for view, number in ((stack, A_NUMBER), (b.stack(stack), B_NUMBER)):
        assert view.account("oidc-federated").endswith(
            f"@{view.endpoints.project.id}.iam.gserviceaccount.com"
        )
        answer = run_chain(view, tmp_path / number, front_ends(number))
        assert answer.status_code == 200, answer.text
    # B's own journal: every hop of its chain, the front end's too, and nothing of A's.
    entries = b.journal()
    assert {e["service"] for e in entries} >= {"sts", "iamcredentials", "tokeninfo", "run"}
    assert {e["project"] for e in entries} == {B_NUMBER}


def test_project_b_callers_cannot_use_project_a_providers(
    stack: WifStack, put_project: Callable[..., WifProject], tmp_path: Path
) -> None:
    b = put_project(B_NUMBER, B_ID).stack(stack)
    b_token = b.mint("alice")  # aud: B's provider
    # B's token presented at A's provider: STS compares the token's aud with A's provider.
    info = external_account.external_account(
        stack.audience(),
        external_account.file_source(str(_write(tmp_path, b_token))),
        token_url=stack.endpoints.sts.token_url,
    )
    with pytest.raises(auth_exceptions.OAuthError) as refused:
        credentials_from_info(info).refresh(Request())
    assert refused.value.args[0] == (
        "Error code invalid_grant: "
        f"The audience in ID Token [{b.audience()}] does not match the expected audience."
    )

    # B's federated principal on A's account (no binding names it there): IAM's 403.
    federated_b = ExternalAccounts(b, tmp_path).credentials(profile="alice")
    with pytest.raises(api_exceptions.Forbidden) as denied:
        b.iam_client(federated_b).generate_access_token(
            name=f"projects/-/serviceAccounts/{stack.account('oidc-federated')}",
            scope=["https://www.googleapis.com/auth/cloud-platform"],
        )
    assert denied.value.message.endswith(f": {GET_ACCESS_TOKEN_DENIED}")


def test_a_provider_of_a_project_not_loaded_is_one_that_does_not_exist(stack: WifStack) -> None:
    audience = stack.audience().replace(A_NUMBER, "999999999999")
    answer = requests.post(
        stack.endpoints.sts.token_url,
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "audience": audience,
            "scope": "https://www.googleapis.com/auth/cloud-platform",
            "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "subject_token": stack.mint("alice"),
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        },
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_target", "error_description": BAD_TARGET}


def test_a_cross_project_binding_is_honoured(
    stack: WifStack, put_project: Callable[..., WifProject], tmp_path: Path
) -> None:
    """Real WIF: project A's principal, bound on project B's account, impersonates it."""
    alice_of_a = (
        f"principal://iam.googleapis.com/projects/{A_NUMBER}/locations/global/"
        "workloadIdentityPools/oidc-pool-run/subject/alice@domain.com"
    )
    account = f"cross-project@{B_ID}.iam.gserviceaccount.com"
    b_document = project_document(B_NUMBER, B_ID)
    b_document["serviceAccounts"].append(
        {
            "email": account,
            "policy": {
                "bindings": [{"role": "roles/iam.workloadIdentityUser", "members": [alice_of_a]}]
            },
        }
    )
    put_project(B_NUMBER, B_ID, serviceAccounts=b_document["serviceAccounts"])
    credentials = ExternalAccounts(stack, tmp_path).credentials(
        profile="alice", service_account=account, scopes=OWNER_SCOPES
    )
    credentials.refresh(Request())
    owner = requests.get(
        stack.endpoints.google_issuer.tokeninfo,
        params={"access_token": credentials.token},
        timeout=10,
    )
    assert owner.json()["email"] == account


def test_one_project_secret_cannot_change_another_project(
    google_url: str, put_project: Callable[..., WifProject]
) -> None:
    b = put_project(B_NUMBER, B_ID)
    c = put_project(C_NUMBER, C_ID)
    assert b.secret and c.secret and b.secret != c.secret
    c_document = requests.get(c.url, headers={"Authorization": f"Bearer {c.secret}"}, timeout=10)
    assert c_document.status_code == 200
    for method in ("PUT", "DELETE", "GET"):
        # B's secret on C's project; and no secret at all, even from loopback.
        for headers in ({"Authorization": f"Bearer {b.secret}"}, {}):
            answer = requests.request(
                method, c.url, json=c_document.json(), headers=headers, timeout=10
            )
            assert answer.status_code == 403, (method, answer.text)
            assert answer.json()["error"]["status"] == "PERMISSION_DENIED"
            assert (
                f"Project {C_NUMBER} belongs to the caller that created it"
                in (answer.json()["error"]["message"])
            )
    # C's own secret still works: the project was not changed or deleted.
    again = requests.put(
        c.url, json=c_document.json(), headers={"Authorization": f"Bearer {c.secret}"}, timeout=10
    )
    assert again.status_code == 200
    assert "X-Wiflab-Project-Secret" not in again.headers, "the secret is handed out once"


def test_deleting_a_project_leaves_the_others_and_kills_its_tokens(
    lab: Lab, tmp_path: Path
) -> None:
    stack, put_project, front_ends = lab.stack, lab.put, lab.front_end
    b = put_project(B_NUMBER, B_ID)
    c = put_project(C_NUMBER, C_ID)
    c_view = c.stack(stack)
    federated = ExternalAccounts(c_view, tmp_path).credentials(profile="alice")
    federated.refresh(Request())
    access = ExternalAccounts(c_view, tmp_path).credentials(
        profile="alice", service_account="oidc-federated", scopes=OWNER_SCOPES
    )
    access.refresh(Request())
    c.delete()

    answer = run_chain(b.stack(stack), tmp_path / B_NUMBER, front_ends(B_NUMBER))
    assert answer.status_code == 200, answer.text
    # Issued before the delete, refused after: tokeninfo no longer knows the access token ...
    info = requests.get(
        stack.endpoints.google_issuer.tokeninfo,
        params={"access_token": access.token},
        timeout=10,
    )
    assert info.status_code == 400
    assert info.json() == {"error": "invalid_token", "error_description": "Invalid Value"}
    # ... IAM Credentials no longer takes the federated token (sent as it was issued: a
    # client library would exchange a new one, and STS would refuse that, below) ...
    unknown = requests.post(
        f"{stack.endpoints.iamcredentials.api_endpoint}/v1/projects/-/serviceAccounts/"
        f"{c_view.account('oidc-federated')}:generateAccessToken",
        json={"scope": ["https://www.googleapis.com/auth/cloud-platform"]},
        headers={"Authorization": f"Bearer {federated.token}"},
        timeout=10,
    )
    assert unknown.status_code == 401
    assert unknown.json()["error"]["message"].startswith(
        "Request had invalid authentication credentials."
    )
    # ... and STS no longer knows the project's providers.
    with pytest.raises(auth_exceptions.OAuthError) as gone:
        ExternalAccounts(c_view, tmp_path).credentials(profile="alice").refresh(Request())
    assert gone.value.args[0] == f"Error code invalid_target: {BAD_TARGET}"


def test_the_journal_shows_a_project_its_own_entries(
    stack: WifStack, put_project: Callable[..., WifProject], tmp_path: Path
) -> None:
    b = put_project(B_NUMBER, B_ID)
    c = put_project(C_NUMBER, C_ID)
    for project in (b, c):
        view = project.stack(stack)
        credentials = ExternalAccounts(view, tmp_path).credentials(
            profile="alice", service_account="oidc-federated"
        )
        credentials.refresh(Request())
    entries = b.journal()  # with B's project secret only
    assert entries, "B's exchange and generateAccessToken are journalled"
    assert {e["service"] for e in entries} >= {"sts", "iamcredentials"}
    assert all(e["project"] == B_NUMBER for e in entries)
    assert not any(C_NUMBER in json.dumps(e["request"]) for e in entries)
    assert {e["project"] for e in c.journal()} == {C_NUMBER}


def _write(tmp_path: Path, token: str) -> Path:
    path = tmp_path / "foreign-subject-token"
    path.write_text(token)
    return path


def test_project_services_are_found_by_project(lab: Lab, tmp_path: Path) -> None:
    stack, put_project, front_ends = lab.stack, lab.put, lab.front_end
    """Both projects have a service named SERVICE; B's front end applies B's bindings, so A's
    account (invoker of A's service only) is refused there."""
    put_project(B_NUMBER, B_ID)
    b_front = front_ends(B_NUMBER)
    federated = ExternalAccounts(stack, tmp_path).credentials(profile="alice")
    id_token = federated_id_token(stack, federated, b_front)
    answer = requests.get(b_front, headers={"Authorization": f"Bearer {id_token}"}, timeout=10)
    assert answer.status_code == 403
    assert "Your client does not have permission to get URL <code>/</code> from this server." in (
        answer.text
    )
