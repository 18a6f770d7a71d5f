"""Google's STS for AWS callers: google-auth's signed GetCallerIdentity executed at AWS, mapped
with Google's default AWS mapping, and every refusal in Google's words (or, where none was
found, the words the README's fidelity table lists as unverified)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from google.auth import exceptions
from google.auth.transport.requests import Request

from tests.sts_aws.conftest import (
    ACCOUNT,
    AUDIENCE,
    BAD_KEY,
    OIDC_AUDIENCE,
    OTHER_AUDIENCE,
    POOL,
    ROLE_ARN,
    USER_ARN,
    credentials,
    edited,
    refusal,
    serve_google,
    set_header,
    signed_request,
)

INVALID_FORMAT = (400, "invalid_grant", "AWS request has invalid format.")
TARGET_MISMATCH = (
    400,
    "invalid_grant",
    "The x-goog-cloud-target-resource header of the AWS request does not match the audience.",
)


def test_google_auth_aws_credentials_get_a_federated_token(google):
    """The official client end to end against the stand-in: its token is the role's."""
    creds = credentials("ASIAROLE00000000", google.url, session_token="session-token")
    creds.refresh(Request())

    issued = google.backend.tokens.lookup(creds.token)
    assert issued.caller.principal() == (
        f"principal://iam.googleapis.com/{POOL}/subject/{ROLE_ARN}"
    )
    # Google's default AWS mapping: the role without its session name.
    assert issued.caller.attributes["aws_role"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/ec2role"
    assert 3590 <= issued.expires_at - issued.issued_at <= 3600


def test_the_signed_request_reaches_aws_as_signed(google, fake_aws):
    """STS executes the request: the signed Host header, query and session token arrive."""
    token = signed_request("ASIAROLE00000000", session_token="session-token")
    before = len(fake_aws.seen)
    assert google.exchange(token).status_code == 200

    seen = fake_aws.seen[before]
    assert seen["method"] == "POST"
    assert seen["query"] == "Action=GetCallerIdentity&Version=2011-06-15"
    assert seen["headers"]["Host"] == "sts.us-east-1.amazonaws.com"
    assert seen["headers"]["X-Amz-Security-Token"] == "session-token"
    assert seen["headers"]["X-Goog-Cloud-Target-Resource"] == AUDIENCE


def test_an_iam_user_is_its_arn(google):
    body = google.exchange(signed_request("AKIAUSER00000000")).json()
    issued = google.backend.tokens.lookup(body["access_token"])
    assert issued.caller.principal() == f"principal://iam.googleapis.com/{POOL}/subject/{USER_ARN}"
    assert issued.caller.attributes["aws_role"] == USER_ARN


def test_a_regional_and_the_global_endpoint_are_both_aws(google):
    for region in ("eu-west-3", "ap-southeast-2"):
        assert google.exchange(signed_request("AKIAUSER00000000", region=region)).ok

    def global_endpoint(doc):
        doc["url"] = "https://sts.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
        set_header("host", "sts.amazonaws.com")(doc)

    token = edited(signed_request("AKIAUSER00000000"), global_endpoint)
    assert google.exchange(token).status_code == 200


def test_aws_refusing_the_signature_is_googles_refusal(google):
    assert refusal(google.exchange(signed_request(BAD_KEY))) == (
        400,
        "invalid_grant",
        "Received invalid AWS response of type SignatureDoesNotMatch with error message: The "
        "request signature we calculated does not match the signature you provided. Check your "
        "AWS Secret Access Key and signing method. Consult the service documentation for "
        "details.",
    )


def test_google_auth_reports_the_refusal(google):
    with pytest.raises(exceptions.OAuthError) as refused:
        credentials(BAD_KEY, google.url).refresh(Request())
    assert "SignatureDoesNotMatch" in str(refused.value)


def test_another_account_is_refused(google):
    assert refusal(google.exchange(signed_request("AKIAOUTSIDER0000"))) == (
        400,
        "invalid_grant",
        "The AWS account 444455556666 of the caller is not the provider's account.",
    )


def test_the_condition_refuses_other_identities_of_the_account(google):
    assert refusal(google.exchange(signed_request("AKIAINTERN000000"))) == (
        400,
        "unauthorized_client",
        "The given credential is rejected by the attribute condition.",
    )


def test_the_target_resource_must_be_the_audience(google):
    """Signed for another provider of the same pool: refused, not exchanged for that one."""
    token = signed_request("AKIAUSER00000000", audience=OTHER_AUDIENCE)
    assert refusal(google.exchange(token)) == TARGET_MISMATCH


def test_the_target_resource_header_is_required(google):
    token = edited(
        signed_request("AKIAUSER00000000"), set_header("x-goog-cloud-target-resource", None)
    )
    assert refusal(google.exchange(token)) == TARGET_MISMATCH


def test_the_target_resource_header_need_not_be_signed(google):
    """google-auth (Python) adds it after signing; Google accepts what google-auth sends."""
    token = signed_request("AKIAUSER00000000")
    assert "x-goog-cloud-target-resource" not in token.partition("Signature")[0]
    assert google.exchange(token).status_code == 200


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(
            lambda d: d.update(url="https://sts.us-east-1.amazonaws.com.evil.example/"),
            id="not-an-aws-host",
        ),
        pytest.param(
            lambda d: d.update(url="http://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity"),
            id="http",
        ),
        pytest.param(set_header("host", "sts.amazonaws"), id="host-header-not-the-urls"),
        pytest.param(
            lambda d: d.update(
                url="https://sts.us-east-1.amazonaws.com?Action=AssumeRole&Version=2011-06-15"
            ),
            id="not-get-caller-identity",
        ),
        pytest.param(lambda d: d.update(method="DELETE"), id="method"),
        pytest.param(set_header("authorization", "Basic Zm9vOmJhcg=="), id="not-sigv4"),
        pytest.param(lambda d: d.pop("headers"), id="no-headers"),
        pytest.param(lambda d: d.update(headers={"host": "x"}), id="headers-not-a-list"),
        pytest.param(lambda d: d.pop("url"), id="no-url"),
    ],
)
def test_a_request_that_is_not_a_signed_get_caller_identity(google, fake_aws, edit):
    before = len(fake_aws.seen)
    assert refusal(google.exchange(edited(signed_request("AKIAUSER00000000"), edit))) == (
        INVALID_FORMAT
    )
    assert len(fake_aws.seen) == before  # never sent to AWS


def test_a_wrong_region_host_is_refused(google):
    """google-auth builds the host from the region: a region that is none is no AWS host."""
    token = signed_request("AKIAUSER00000000", region="not a region")
    assert refusal(google.exchange(token)) == INVALID_FORMAT


@pytest.mark.parametrize("token", ["not json", "%7B%22url%22", "[]", "{}", "%7B%7D"])
def test_a_subject_token_that_is_not_a_serialized_request(google, token):
    assert refusal(google.exchange(token)) == INVALID_FORMAT


def test_an_aws_provider_takes_no_jwt(google):
    response = google.exchange(
        signed_request("AKIAUSER00000000"),
        subject_token_type="urn:ietf:params:oauth:token-type:jwt",
    )
    assert refusal(response) == (400, "invalid_request", 'Invalid value for "subject_token_type".')


def test_an_oidc_provider_takes_no_signed_request(google):
    token = signed_request("AKIAUSER00000000", audience=OIDC_AUDIENCE)
    response = google.exchange(token, audience=OIDC_AUDIENCE)
    assert refusal(response) == (400, "invalid_request", 'Invalid value for "subject_token_type".')


def test_aws_unreachable_is_a_refusal_not_an_error(fake_aws):
    server, google = serve_google("http://127.0.0.1:9")  # the discard port: nothing listens
    with server:
        assert refusal(google.exchange(signed_request("AKIAUSER00000000"))) == (
            400,
            "invalid_grant",
            "Error connecting to AWS.",
        )


def test_the_journal_shows_each_aws_check(google):
    token = signed_request("AKIAINTERN000000", session_token="the-session-token")
    signature = unquote(token).partition("Signature=")[2][:64]
    google.exchange(token)
    entry = google.session.get(f"{google.url}/wiflab/v1/journal").json()["entries"][-1]
    names = [check["name"] for check in entry["checks"]]
    assert names[:3] == [
        "request.grant_type",
        "request.requested_token_type",
        "request.subject_token_type",
    ]
    for name in (
        "aws.subject_token",
        "aws.url",
        "aws.headers.host",
        "aws.action",
        "aws.headers.x-goog-cloud-target-resource",
        "aws.call",
        "aws.account",
        "mapping google.subject",
        "condition",
    ):
        assert name in names
    assert entry["checks"][-1]["name"] == "condition"
    assert entry["checks"][-1]["passed"] is False
    call = next(c for c in entry["checks"] if c["name"] == "aws.call")
    assert call["actual"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/intern"
    # The signature and the session token never reach the journal.
    assert len(signature) == 64
    assert signature not in str(entry)
    assert "the-session-token" not in str(entry)
