"""boto3 calling the local AWS STS: GetCallerIdentity with the made keys, and AWS's refusals
with AWS's literal texts (captures cited in aws_side/sigv4.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from botocore.exceptions import ClientError

from tests.aws_side.conftest import ROLE, USER, LocalSts

SIGNATURE_TEXT = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation "
    "for details."
)
INVALID_TOKEN_TEXT = "The security token included in the request is invalid."


def refused(call) -> dict:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return {"status": response["ResponseMetadata"]["HTTPStatusCode"], **response["Error"]}


def test_a_user_key_gets_its_arn_account_and_user_id(local_sts: LocalSts) -> None:
    alice = local_sts.identity(USER)
    found = local_sts.client(alice).get_caller_identity()
    assert found["Arn"] == "arn:aws:iam::111122223333:user/alice"
    assert found["Account"] == "111122223333"
    assert found["UserId"].startswith("AIDA") and len(found["UserId"]) == 21
    assert alice.access_key_id.startswith("AKIA") and len(alice.access_key_id) == 20


def test_an_assumed_role_gets_its_session_arn_and_role_user_id(local_sts: LocalSts) -> None:
    role = local_sts.identity(ROLE)
    assert role.access_key_id.startswith("ASIA")
    found = local_sts.client(role).get_caller_identity()
    assert found["Arn"] == ROLE
    assert found["UserId"].startswith("AROA") and found["UserId"].endswith(":i-0abc")


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-3", "ap-southeast-2"])
def test_any_region_signs_for_an_endpoint_url(local_sts: LocalSts, region: str) -> None:
    found = local_sts.client(local_sts.identity(USER), region=region).get_caller_identity()
    assert found["Arn"] == USER


def test_a_wrong_secret_is_signature_does_not_match(local_sts: LocalSts) -> None:
    alice = local_sts.identity(USER)
    client = local_sts.client(alice, aws_secret_access_key="x" * 40)
    assert refused(client.get_caller_identity) == {
        "status": 403,
        "Type": "Sender",
        "Code": "SignatureDoesNotMatch",
        "Message": SIGNATURE_TEXT,
    }


def test_an_unknown_key_is_an_invalid_client_token_id(local_sts: LocalSts) -> None:
    client = local_sts.client(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    assert refused(client.get_caller_identity) == {
        "status": 403,
        "Type": "Sender",
        "Code": "InvalidClientTokenId",
        "Message": INVALID_TOKEN_TEXT,
    }


def test_temporary_keys_without_their_session_token_are_refused(local_sts: LocalSts) -> None:
    role = local_sts.identity(ROLE)
    client = local_sts.client(role, aws_session_token=None)
    error = refused(client.get_caller_identity)
    assert (error["status"], error["Code"], error["Message"]) == (
        403,
        "InvalidClientTokenId",
        INVALID_TOKEN_TEXT,
    )


def test_temporary_keys_with_another_session_token_are_refused(local_sts: LocalSts) -> None:
    role = local_sts.identity(ROLE)
    client = local_sts.client(role, aws_session_token=role.session_token[:-4] + "AAAA")
    assert refused(client.get_caller_identity)["Code"] == "InvalidClientTokenId"


def test_temporary_keys_past_their_expiration_are_expired(local_sts: LocalSts) -> None:
    role = local_sts.identity(ROLE)
    assert role.expiration is not None
    after = role.expiration + timedelta(minutes=1)
    local_sts.clock.pinned = after
    with time_machine.travel(after, tick=False):
        error = refused(local_sts.client(role).get_caller_identity)
    assert error == {
        "status": 403,
        "Type": "Sender",
        "Code": "ExpiredToken",
        "Message": "The security token included in the request is expired",
    }


def test_a_request_signed_too_long_ago_is_signature_expired(local_sts: LocalSts) -> None:
    signed = datetime(2026, 12, 1, 20, 0, 0, tzinfo=UTC)
    local_sts.clock.pinned = signed + timedelta(minutes=15, seconds=1)
    with time_machine.travel(signed, tick=False):
        error = refused(local_sts.client(local_sts.identity(USER)).get_caller_identity)
    assert error == {
        "status": 403,
        "Type": "Sender",
        "Code": "SignatureDoesNotMatch",
        "Message": "Signature expired: 20261201T200000Z is now earlier than 20261201T200001Z "
        "(20261201T201501Z - 15 min.)",
    }


def test_a_request_signed_in_the_future_is_not_yet_current(local_sts: LocalSts) -> None:
    signed = datetime(2026, 12, 1, 20, 0, 0, tzinfo=UTC)
    local_sts.clock.pinned = signed - timedelta(minutes=20)
    with time_machine.travel(signed, tick=False):
        error = refused(local_sts.client(local_sts.identity(USER)).get_caller_identity)
    assert error["Code"] == "SignatureDoesNotMatch"
    assert error["Message"] == (
        "Signature not yet current: 20261201T200000Z is still later than 20261201T195500Z "
        "(20261201T194000Z + 15 min.)"
    )


@pytest.mark.parametrize("skew", [timedelta(minutes=-15), timedelta(0), timedelta(minutes=15)])
def test_the_window_is_fifteen_minutes_either_way_inclusive(
    local_sts: LocalSts, skew: timedelta
) -> None:
    signed = datetime(2026, 12, 1, 20, 0, 0, tzinfo=UTC)
    local_sts.clock.pinned = signed + skew
    with time_machine.travel(signed, tick=False):
        found = local_sts.client(local_sts.identity(USER)).get_caller_identity()
    assert found["Arn"] == USER


def test_no_authorization_is_missing_authentication_token(local_sts: LocalSts) -> None:
    response = requests.post(
        local_sts.url,
        data="Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("text/xml")
    rid = response.headers["x-amzn-RequestId"]
    assert response.text == (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
        "  <Error>\n"
        "    <Type>Sender</Type>\n"
        "    <Code>MissingAuthenticationToken</Code>\n"
        "    <Message>Request is missing Authentication Token</Message>\n"
        "  </Error>\n"
        f"  <RequestId>{rid}</RequestId>\n"
        "</ErrorResponse>\n"
    )
