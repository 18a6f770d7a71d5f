"""The local STS on the wire: the Host as signed, AWS's XML and JSON, AWS's IncompleteSignature
and region texts (captures cited in aws_side/sigv4.py)."""

from __future__ import annotations

import re

import pytest

from tests.aws_side.conftest import ROLE, USER, LocalSts
from tests.aws_side.signing import FORM, send, signed_headers

REGIONAL = "https://sts.us-east-1.amazonaws.com/"
XML_IDENTITY = re.compile(
    r'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
    r"  <GetCallerIdentityResult>\n"
    r"    <Arn>(?P<arn>[^<]+)</Arn>\n"
    r"    <UserId>(?P<user_id>[^<]+)</UserId>\n"
    r"    <Account>(?P<account>\d{12})</Account>\n"
    r"  </GetCallerIdentityResult>\n"
    r"  <ResponseMetadata>\n"
    r"    <RequestId>(?P<rid>[0-9a-f-]{36})</RequestId>\n"
    r"  </ResponseMetadata>\n"
    r"</GetCallerIdentityResponse>\n"
)


def error_of(response) -> tuple[int, str, str]:
    match = re.search(r"<Code>(.*?)</Code>\n    <Message>(.*?)</Message>", response.text, re.S)
    assert match is not None, response.text
    assert "<Type>Sender</Type>" in response.text
    return response.status_code, match.group(1), match.group(2)


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://sts.us-east-1.amazonaws.com/", "us-east-1"),
        ("https://sts.eu-west-1.amazonaws.com/", "eu-west-1"),
        ("https://sts.amazonaws.com/", "us-east-1"),
    ],
)
def test_a_request_signed_for_an_aws_host_is_verified_with_that_host(
    local_sts: LocalSts, url: str, region: str
) -> None:
    alice = local_sts.identity(USER)
    response = send(local_sts.url, url, signed_headers(alice, url, region=region))
    assert response.status_code == 200, response.text
    match = XML_IDENTITY.fullmatch(response.text)
    assert match is not None, response.text
    assert match["arn"] == USER and match["account"] == "111122223333"
    assert match["rid"] == response.headers["x-amzn-RequestId"]
    assert response.headers["Content-Type"].startswith("text/xml")


def test_google_auths_request_shape_is_verified(local_sts: LocalSts) -> None:
    """POST to ?Action=...&Version=... with no body and x-goog-cloud-target-resource signed,
    as google-auth's aws.py sends it."""
    role = local_sts.identity(ROLE)
    url = "https://sts.us-east-1.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
    target = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/a"
    headers = signed_headers(
        role, url, region="us-east-1", body="", headers={"x-goog-cloud-target-resource": target}
    )
    assert "x-goog-cloud-target-resource" in headers["Authorization"]
    response = send(local_sts.url, url, headers, body="")
    assert response.status_code == 200, response.text
    assert XML_IDENTITY.fullmatch(response.text)["arn"] == ROLE


def test_a_changed_signed_header_breaks_the_signature(local_sts: LocalSts) -> None:
    alice = local_sts.identity(USER)
    headers = signed_headers(
        alice, REGIONAL, region="us-east-1", headers={"x-goog-cloud-target-resource": "a"}
    )
    headers["x-goog-cloud-target-resource"] = "b"
    assert error_of(send(local_sts.url, REGIONAL, headers))[1] == "SignatureDoesNotMatch"


def test_a_request_replayed_to_another_host_breaks_the_signature(local_sts: LocalSts) -> None:
    alice = local_sts.identity(USER)
    headers = signed_headers(alice, REGIONAL, region="us-east-1")
    headers["Host"] = "127.0.0.1"
    assert error_of(send(local_sts.url, REGIONAL, headers))[1] == "SignatureDoesNotMatch"


def test_a_changed_body_breaks_the_signature(local_sts: LocalSts) -> None:
    alice = local_sts.identity(USER)
    headers = signed_headers(alice, REGIONAL, region="us-east-1")
    response = send(local_sts.url, REGIONAL, headers, body=FORM + "&Extra=1")
    assert error_of(response)[1] == "SignatureDoesNotMatch"


def test_json_when_asked_for(local_sts: LocalSts) -> None:
    alice = local_sts.identity(USER)
    headers = signed_headers(
        alice, REGIONAL, region="us-east-1", headers={"Accept": "application/json"}
    )
    response = send(local_sts.url, REGIONAL, headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    rid = response.headers["x-amzn-RequestId"]
    assert body == {
        "GetCallerIdentityResponse": {
            "GetCallerIdentityResult": {
                "Account": "111122223333",
                "Arn": USER,
                "UserId": body["GetCallerIdentityResponse"]["GetCallerIdentityResult"]["UserId"],
            },
            "ResponseMetadata": {"RequestId": rid},
        }
    }


def test_a_regional_host_signed_for_another_region(local_sts: LocalSts) -> None:
    alice = local_sts.identity(USER)
    headers = signed_headers(alice, REGIONAL, region="eu-west-1")
    assert error_of(send(local_sts.url, REGIONAL, headers)) == (
        403,
        "SignatureDoesNotMatch",
        "Credential should be scoped to a valid region. ",
    )


def test_the_global_host_signed_for_another_region(local_sts: LocalSts) -> None:
    alice = local_sts.identity(USER)
    url = "https://sts.amazonaws.com/"
    headers = signed_headers(alice, url, region="ap-southeast-2")
    assert error_of(send(local_sts.url, url, headers)) == (
        403,
        "SignatureDoesNotMatch",
        "Credential should be scoped to a valid region, not 'ap-southeast-2'. ",
    )


def test_a_credential_without_five_elements(local_sts: LocalSts) -> None:
    alice = local_sts.identity(USER)
    headers = signed_headers(alice, REGIONAL, region="us-east-1")
    headers["Authorization"] = headers["Authorization"].replace("/aws4_request", "")
    credential = headers["Authorization"].split("Credential=")[1].split(",")[0]
    assert error_of(send(local_sts.url, REGIONAL, headers)) == (
        400,
        "IncompleteSignature",
        "Credential must have exactly 5 slash-delimited elements, e.g. "
        f"keyid/date/region/service/term, got '{credential}'",
    )


def test_a_pair_without_an_equal_sign(local_sts: LocalSts) -> None:
    alice = local_sts.identity(USER)
    headers = signed_headers(alice, REGIONAL, region="us-east-1")
    headers["Authorization"] = headers["Authorization"].replace("Credential=", "Credential= ", 1)
    headers["Authorization"] = headers["Authorization"].replace("Credential= ", "", 1)
    credential = headers["Authorization"].split(" ", 1)[1].split(",")[0]
    assert error_of(send(local_sts.url, REGIONAL, headers)) == (
        400,
        "IncompleteSignature",
        f"'{credential}' not a valid key=value pair (missing equal-sign) in Authorization "
        f"header: '{headers['Authorization']}'.",
    )


def test_missing_parameters_are_each_named(local_sts: LocalSts) -> None:
    headers = {
        "Host": "sts.us-east-1.amazonaws.com",
        "Authorization": "AWS4-HMAC-SHA256 Credential=ABCDEF",
    }
    assert error_of(send(local_sts.url, REGIONAL, headers)) == (
        400,
        "IncompleteSignature",
        "Authorization header requires 'Signature' parameter. Authorization header requires "
        "'SignedHeaders' parameter. Authorization header requires existence of either a "
        "'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=ABCDEF",
    )


def test_the_host_must_be_signed(local_sts: LocalSts) -> None:
    alice = local_sts.identity(USER)
    headers = signed_headers(alice, REGIONAL, region="us-east-1")
    headers["Authorization"] = headers["Authorization"].replace("host;", "")
    status, code, _ = error_of(send(local_sts.url, REGIONAL, headers))
    assert (status, code) == (400, "IncompleteSignature")


def test_the_decision_lists_every_check(local_sts: LocalSts) -> None:
    from datetime import UTC, datetime

    from aws_side.sigv4 import SignedRequest, verify

    alice = local_sts.identity(USER)
    headers = signed_headers(alice, REGIONAL, region="us-east-1")
    request = SignedRequest("POST", "/", "", list(headers.items()), FORM.encode())
    verification = verify(request, local_sts.identities, datetime.now(UTC))
    assert verification.decision.allowed and verification.identity == alice
    assert [c.name for c in verification.decision.checks] == [
        "auth.header",
        "auth.parsed",
        "auth.credential",
        "auth.signed_headers",
        "auth.date",
        "auth.scope.region",
        "auth.scope.service",
        "auth.access_key",
        "auth.session_token",
        "auth.signature",
    ]
    assert alice.secret_access_key not in str(verification.decision.to_json())


@pytest.mark.parametrize("path", ["/", "/a%20b", "/x/../y", "/~user/"])
def test_paths_are_canonicalised_as_botocore_signs_them(local_sts: LocalSts, path: str) -> None:
    alice = local_sts.identity(USER)
    url = f"https://sts.us-east-1.amazonaws.com{path}"
    headers = signed_headers(alice, url, region="us-east-1")
    response = send(local_sts.url, url, headers)
    assert response.status_code == 200, response.text
