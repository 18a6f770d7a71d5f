"""Whatever arrives, the local STS answers with AWS's ErrorResponse (or the identity): never a
5xx, a traceback or an HTML page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aws_side.identities import Identities
from aws_side.sts_http import create_sts_app
from tests.aws_side.signing import signed_headers

ERROR = re.compile(
    r'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <Error>\n'
    r"    <Type>Sender</Type>\n    <Code>[A-Za-z]+</Code>\n    <Message>[^<]*</Message>\n"
    r"  </Error>\n  <RequestId>[0-9a-f-]{36}</RequestId>\n</ErrorResponse>\n"
)
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=300
)
PIECES = st.sampled_from(
    [
        "AWS4-HMAC-SHA256",
        " ",
        ",",
        "=",
        "/",
        ";",
        "Credential=",
        "SignedHeaders=",
        "Signature=",
        "AKIA0000000000000000",
        "20261201",
        "us-east-1",
        "sts",
        "aws4_request",
        "host;x-amz-date",
        "&",
        "<",
        "'",
    ]
)
authorization = st.one_of(header_text, st.lists(PIECES, max_size=30).map("".join))


def assert_aws_answer(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    body = response.get_data(as_text=True)
    if response.status_code != 200:
        assert ERROR.fullmatch(body), body


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    auth=authorization,
    date=st.one_of(st.none(), header_text, st.just("20261201T200000Z")),
    host=st.one_of(header_text, st.sampled_from(["sts.amazonaws.com", "sts.x.amazonaws.com:443"])),
    token=st.one_of(st.none(), header_text),
    body=st.binary(max_size=200),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    query=st.text(max_size=60),
)
def test_any_authorization_gets_aws_error_xml(
    sts_identities: Identities, auth, date, host, token, body, method, query
) -> None:
    client = create_sts_app(
        sts_identities, lambda: datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    ).test_client()
    headers = {"Authorization": auth, "Host": host}
    if date is not None:
        headers["X-Amz-Date"] = date
    if token is not None:
        headers["X-Amz-Security-Token"] = token
    response = client.open("/", method=method, query_string=query, data=body, headers=headers)
    assert_aws_answer(response)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(
        ["Authorization", "X-Amz-Date", "Host", "Content-Type", "X-Amz-Security-Token"]
    ),
    value=header_text,
)
def test_one_header_of_a_good_request_changed(sts_identities: Identities, name, value) -> None:
    """A correctly signed request with one header replaced: refused in AWS's words, or (if the
    value happens to be the same) allowed."""
    at = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    identity = sts_identities.identities[1]
    url = "https://sts.us-east-1.amazonaws.com/"
    headers = signed_headers(identity, url, region="us-east-1", at=at)
    headers[name] = value
    client = create_sts_app(sts_identities, lambda: at).test_client()
    response = client.post(
        "/", data=b"Action=GetCallerIdentity&Version=2011-06-15", headers=headers
    )
    assert_aws_answer(response)


def test_a_large_body_is_refused_in_aws_xml(sts_identities: Identities) -> None:
    client = create_sts_app(sts_identities).test_client()
    response = client.post("/", data=b"x" * (1024 * 1024))
    assert response.status_code == 413
    assert ERROR.fullmatch(response.get_data(as_text=True))
