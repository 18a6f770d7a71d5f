"""Tests of my own Workload Identity Federation code, against wiflab's local stand-in.

No Google Cloud project, no network: `pip install wiflab` brings a pytest plugin whose fixtures
start the fake IdP and Google's side (STS, IAM Credentials, Cloud Run) on loopback, once per
session, with the example topology (or yours: `pytest --wif-topology my-wif.yaml`).
"""

import json

import google.auth
import pytest
import requests
from google.api_core.exceptions import Forbidden
from google.auth.exceptions import OAuthError
from google.auth.transport.requests import Request

PROVIDER = "oidc-pool-run/oidc-provider-1"
SERVICE = "federated-auth-cloud-run"


# The code under test (in real life, imported from your package).
def call_private_service(iam_client, account: str, url: str) -> dict:
    """Get a Google ID token for account, then call a private Cloud Run service with it."""
    token = iam_client.generate_id_token(
        name=f"projects/-/serviceAccounts/{account}", audience=url, include_email=True
    ).token
    response = requests.get(f"{url}/dump", headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return response.json()


def test_my_code_reaches_the_private_service(wif_stack, external_account_credentials):
    credentials = external_account_credentials(PROVIDER, profile="alice")
    account = wif_stack.account("oidc-federated")
    url = wif_stack.service_url(SERVICE)

    dump = call_private_service(wif_stack.iam_client(credentials), account, url)

    assert dump["identity"]["claims"]["email"] == account


def test_application_default_credentials_from_a_config_file(
    wif_stack, external_account_info, tmp_path, monkeypatch
):
    info = external_account_info(PROVIDER, "url", service_account="oidc-federated")
    (tmp_path / "wif.json").write_text(json.dumps(info))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "wif.json"))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", wif_stack.endpoints.project.id)

    # With the email scope, or tokeninfo does not name the account.
    credentials, _ = google.auth.default(
        [
            "https://www.googleapis.com/auth/cloud-platform",
            "https://www.googleapis.com/auth/userinfo.email",
        ]
    )
    credentials.refresh(Request())

    tokeninfo = wif_stack.endpoints.google_issuer.tokeninfo
    owner = requests.get(tokeninfo, params={"access_token": credentials.token}).json()["email"]
    assert owner == wif_stack.account("oidc-federated")


def test_a_token_the_provider_must_refuse(external_account_credentials, mint_token):
    token = mint_token("alice", isadmin="false")  # the provider's condition wants "true"
    credentials = external_account_credentials(PROVIDER, subject_token=token)

    with pytest.raises(OAuthError, match="rejected by the attribute condition"):
        credentials.refresh(Request())


def test_my_code_when_the_binding_is_missing(wif_stack, wif_topology, external_account_credentials):
    document = wif_topology.document()  # the topology in force, as an editable dict
    for account in document["serviceAccounts"]:
        account["policy"]["bindings"] = []
    wif_topology.apply(document)  # for this test only: restored when it ends
    credentials = external_account_credentials(PROVIDER, profile="alice")

    with pytest.raises(Forbidden):
        call_private_service(
            wif_stack.iam_client(credentials),
            wif_stack.account("oidc-federated"),
            wif_stack.service_url(SERVICE),
        )


def test_the_bindings_are_back_for_the_next_test(wif_stack, external_account_credentials):
    credentials = external_account_credentials(PROVIDER, "executable", profile="alice")
    dump = call_private_service(
        wif_stack.iam_client(credentials),
        wif_stack.account("oidc-federated"),
        wif_stack.service_url(SERVICE),
    )
    assert dump["identity"]["verified"] is True
