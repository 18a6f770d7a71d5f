"""Seed 001: a fake IdP token -> STS -> generateIdToken with the federated token itself (no
impersonation) -> the private Cloud Run service's /dump, which shows who called."""

from __future__ import annotations

import json

import requests
from google.auth.transport.requests import Request
from google.oauth2 import id_token

from e2e.names import FEDERATED_SA, LAB_PROVIDER, SERVICE, SIGNATURE_REMOVED


def test_federated_token_to_google_id_token_to_cloud_run(
    wif_stack, external_account_info, tmp_path, monkeypatch
):
    """As the seed's client does it: ADC from GOOGLE_APPLICATION_CREDENTIALS, a credential
    file without service_account_impersonation_url, google-cloud-iam's generateIdToken."""
    info = external_account_info(LAB_PROVIDER, "file", profile="alice")
    assert "service_account_impersonation_url" not in info
    config = tmp_path / "sts-creds.json"
    config.write_text(json.dumps(info))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(config))
    # Else google.auth.default() asks Cloud Resource Manager for the external account's project.
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", wif_stack.endpoints.project.id)
    account = wif_stack.account(FEDERATED_SA)
    url = wif_stack.service_url(SERVICE)

    token = (
        wif_stack.iam_client()
        .generate_id_token(
            name=f"projects/-/serviceAccounts/{account}", audience=url, include_email=True
        )
        .token
    )
    dump = requests.get(f"{url}/dump", headers={"Authorization": f"Bearer {token}"}, timeout=10)

    assert dump.status_code == 200, dump.text
    identity = dump.json()["identity"]
    assert identity["claims"]["email"] == account
    assert identity["claims"]["aud"] == url
    assert identity["verified"] is True
    # Cloud Run checked the token and forwarded it with Google's signature removed.
    assert dump.json()["headers"]["Authorization"].endswith(f".{SIGNATURE_REMOVED}")


def test_the_id_token_verifies_against_googles_certs(wif_stack, external_account_credentials):
    """A relying party other than Cloud Run checks the token with google-auth."""
    credentials = external_account_credentials(LAB_PROVIDER, profile="alice")
    account = wif_stack.account(FEDERATED_SA)
    token = (
        wif_stack.iam_client(credentials)
        .generate_id_token(
            name=f"projects/-/serviceAccounts/{account}",
            audience="https://relying-party.wiflab.test",
            include_email=True,
        )
        .token
    )
    claims = id_token.verify_token(
        token,
        Request(),
        audience="https://relying-party.wiflab.test",
        certs_url=wif_stack.endpoints.google_issuer.certs_v1,
    )
    assert claims["email"] == account
    assert claims["email_verified"] is True


def test_serverless_header_leaves_authorization_to_the_app(wif_stack, external_account_credentials):
    """Cloud Run checks X-Serverless-Authorization; the app's own Authorization passes as sent."""
    credentials = external_account_credentials(LAB_PROVIDER, profile="alice")
    url = wif_stack.service_url(SERVICE)
    token = (
        wif_stack.iam_client(credentials)
        .generate_id_token(
            name=f"projects/-/serviceAccounts/{wif_stack.account(FEDERATED_SA)}",
            audience=url,
            include_email=True,
        )
        .token
    )
    headers = {"X-Serverless-Authorization": f"Bearer {token}", "Authorization": "Bearer app-own"}
    dump = requests.get(f"{url}/dump", headers=headers, timeout=10)

    assert dump.status_code == 200, dump.text
    seen = dump.json()["headers"]
    assert seen["Authorization"] == "Bearer app-own"
    assert seen["X-Serverless-Authorization"].endswith(f".{SIGNATURE_REMOVED}")
