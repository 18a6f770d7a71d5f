"""Seed 001's client: call a private Cloud Run service as a service account, through
Workload Identity Federation, with Google's client libraries.

    subject token --STS--> federated token --generateIdToken--> Google-signed ID token --> /dump

Settings are read from the environment (clients/README.md). Run: python clients/python/main.py
"""

from __future__ import annotations

import json
import os

import google.auth
import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth import jwt
from google.auth.transport.requests import Request
from google.cloud import iam_credentials_v1

from report import fail, iam_refusal, service_refusal, short, sts_refusal
from wif_settings import CLOUD_PLATFORM, iam_client_options, local_endpoints, setting


def main() -> None:
    config = setting("GOOGLE_APPLICATION_CREDENTIALS", "the external-account config")
    account = setting("WIF_SERVICE_ACCOUNT", "the service account to act as")
    url = setting("WIF_SERVICE_URL", "the protected service's URL").rstrip("/")
    audience = os.environ.get("WIF_AUDIENCE") or url
    endpoints = local_endpoints()

    # 1. The config names the subject token and the provider that trusts it; google-auth
    #    reads the token and exchanges it at STS (the config's token_url). STS wants a scope.
    credentials, _ = google.auth.load_credentials_from_file(config)
    credentials = credentials.with_scopes([CLOUD_PLATFORM])
    try:
        credentials.refresh(Request())
    except auth_exceptions.OAuthError as error:
        fail(sts_refusal(error))
    print(f"federated token from STS: {short(credentials.token)}")

    # 2. With no service_account_impersonation_url in the config, the federated token itself
    #    calls IAM Credentials (seed 001's short cut), which mints the account's ID token for
    #    the service's audience. The principal needs iam.serviceAccounts.getOpenIdToken on it.
    client = iam_credentials_v1.IAMCredentialsClient(
        credentials=credentials, **iam_client_options(endpoints)
    )
    try:
        token = client.generate_id_token(
            name=f"projects/-/serviceAccounts/{account}", audience=audience, include_email=True
        ).token
    except api_exceptions.GoogleAPICallError as error:
        fail(iam_refusal(error, account))
    print(f"ID token from IAM Credentials: {short(token)}")
    print(json.dumps(jwt.decode(token, verify=False), indent=2))

    # 3. Cloud Run's front end checks the token (Google's signature, aud, run.invoker)
    #    before the service sees the call.
    response = requests.get(f"{url}/dump", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if not response.ok:
        fail(service_refusal(response.status_code, response.text, account))
    print(f"== the service's answer (GET {url}/dump) ==")
    print(json.dumps(response.json(), indent=2))


if __name__ == "__main__":
    try:
        main()
    except (auth_exceptions.GoogleAuthError, requests.RequestException) as error:
        fail(str(error))  # an unreadable config or subject token, an unreachable endpoint
