"""Any serialized request posted to STS for an AWS provider: never a 5xx, always Google's
error JSON (or a token, when the request is a good one)."""

from __future__ import annotations

import json
from urllib.parse import quote, unquote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sts_aws.conftest import signed_request

_text = st.text(max_size=40)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=12,
)
_header = st.fixed_dictionaries({"key": _text, "value": _text}) | _json
_urls = (
    st.sampled_from(
        [
            "https://sts.us-east-1.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
            "https://sts.amazonaws.com/?Action=GetCallerIdentity",
            "https://sts.amazonaws.com:8443/",
            "https://[::1/",
            "",
        ]
    )
    | _text
)
_requests = st.fixed_dictionaries(
    {},
    optional={
        "url": _urls | _json,
        "method": st.sampled_from(["POST", "GET", "post", ""]) | _json,
        "headers": st.lists(_header, max_size=6) | _json,
        "body": st.sampled_from(["", "Action=GetCallerIdentity&Version=2011-06-15"]) | _json,
    },
)
_fuzz = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _answered_as_google(response) -> None:
    assert response.status_code < 500, response.text
    body = response.json()
    if response.status_code == 200:
        assert body["token_type"] == "Bearer"
    else:
        assert set(body) == {"error", "error_description"}
        assert isinstance(body["error_description"], str) and body["error_description"]


@_fuzz
@given(request=_requests, quoted=st.booleans())
def test_any_serialized_request(google, request, quoted):
    text = json.dumps(request)
    _answered_as_google(google.exchange(quote(text) if quoted else text))


@_fuzz
@given(token=st.text(max_size=300))
def test_any_subject_token(google, token):
    _answered_as_google(google.exchange(token))


@_fuzz
@given(data=st.data())
def test_a_good_request_with_one_part_changed(google, data):
    doc = json.loads(unquote(signed_request("AKIAUSER00000000")))
    key = data.draw(st.sampled_from(["url", "method", "headers", "body"]))
    if key == "headers" and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(doc["headers"]) - 1))
        doc["headers"][i][data.draw(st.sampled_from(["key", "value"]))] = data.draw(_text | _json)
    else:
        doc[key] = data.draw(_json | _urls)
    _answered_as_google(google.exchange(quote(json.dumps(doc))))
