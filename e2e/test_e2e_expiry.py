"""Expiry: google-auth notices that a credential's token expired and refreshes it, and the
next call succeeds with the new token."""

from __future__ import annotations

import datetime
import time

import jwt

from e2e.names import FEDERATED_SA, LAB_PROVIDER


def id_token_email(wif_stack, credentials) -> str:
    account = wif_stack.account(FEDERATED_SA)
    token = (
        wif_stack.iam_client(credentials)
        .generate_id_token(
            name=f"projects/-/serviceAccounts/{account}",
            audience="https://expiry.wiflab.test",
            include_email=True,
        )
        .token
    )
    return jwt.decode(token, options={"verify_signature": False})["email"]


def test_a_federated_token_never_outlives_its_subject_token_and_is_refreshed(
    wif_stack, external_account_credentials
):
    """A subject token with two minutes left gives a federated token that ends with it; google-
    auth counts it expired already (it refreshes minutes early) and exchanges again."""
    subject_exp = int(time.time()) + 120
    credentials = external_account_credentials(LAB_PROVIDER, profile="alice", exp=subject_exp)

    assert id_token_email(wif_stack, credentials) == wif_stack.account(FEDERATED_SA)
    first = credentials.token
    assert credentials.expiry <= datetime.datetime.fromtimestamp(subject_exp, datetime.UTC).replace(
        tzinfo=None
    )
    assert credentials.expired

    assert id_token_email(wif_stack, credentials) == wif_stack.account(FEDERATED_SA)
    assert credentials.token != first


def test_a_token_past_its_expiry_is_replaced_before_the_next_call(
    wif_stack, external_account_credentials
):
    """The url source gives google-auth a fresh subject token for the new exchange."""
    credentials = external_account_credentials(LAB_PROVIDER, "url", profile="alice")
    assert id_token_email(wif_stack, credentials) == wif_stack.account(FEDERATED_SA)
    first = credentials.token
    assert not credentials.expired

    credentials.expiry = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - (
        datetime.timedelta(seconds=1)
    )
    assert credentials.expired
    assert id_token_email(wif_stack, credentials) == wif_stack.account(FEDERATED_SA)
    assert credentials.token != first
    assert not credentials.expired
