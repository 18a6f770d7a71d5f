"""Seed 004's impersonated flow: the config's service_account_impersonation_url turns the
federated token into the service account's own OAuth access token, which Google APIs take
as it is (Cloud Storage, BigQuery, ...).

    subject token --STS--> federated token --generateAccessToken--> the account's access token

Cloud Run takes ID tokens, not access tokens: to call the service, see main.py.
Run: python clients/python/impersonated.py
"""

from __future__ import annotations

import json

import google.auth
import requests
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import AuthorizedSession, Request

from report import fail, impersonation_refusal, short, sts_refusal
from wif_settings import CLOUD_PLATFORM, local_endpoints, setting, tokeninfo_url


def main() -> None:
    config = setting(
        "GOOGLE_APPLICATION_CREDENTIALS",
        "an external-account config with a service_account_impersonation_url",
    )
    endpoints = local_endpoints()

    # 1. google-auth makes both exchanges: the subject token for a federated token at STS,
    #    then that for the account's access token at the impersonation URL. The federated
    #    principal needs iam.serviceAccounts.getAccessToken on the account.
    credentials, _ = google.auth.load_credentials_from_file(config)
    # The email scope lets tokeninfo name the account (it shows no email without it).
    credentials = credentials.with_scopes(
        [CLOUD_PLATFORM, "https://www.googleapis.com/auth/userinfo.email"]
    )
    account = credentials.service_account_email
    if account is None:
        fail(f"{config} has no service_account_impersonation_url: use main.py for this config")
    try:
        credentials.refresh(Request())
    except auth_exceptions.OAuthError as error:
        fail(sts_refusal(error))
    except auth_exceptions.RefreshError as error:
        fail(impersonation_refusal(error, account))
    print(f"access token for {account}: {short(credentials.token)}, expires {credentials.expiry}")

    # 2. Use it directly: an AuthorizedSession sends it as the bearer of every request.
    #    Google's tokeninfo says whose token it is.
    response = AuthorizedSession(credentials).post(
        tokeninfo_url(endpoints), data={"access_token": credentials.token}, timeout=30
    )
    response.raise_for_status()
    print("== tokeninfo's answer ==")
    print(json.dumps(response.json(), indent=2))


if __name__ == "__main__":
    try:
        main()
    except (auth_exceptions.GoogleAuthError, requests.RequestException) as error:
        fail(str(error))  # an unreadable config or subject token, an unreachable endpoint
