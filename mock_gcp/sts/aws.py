"""STS for AWS callers: a serialized, SigV4-signed ``GetCallerIdentity`` as the subject token.

The client (google-auth ``aws.py``, google-auth-library ``awsclient.js``) signs
``POST https://sts.REGION.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15`` with the
extra header ``x-goog-cloud-target-resource`` set to the provider's resource name, and sends
``quote(json.dumps({"url", "method", "headers": [{"key", "value"}], "body"?}))`` with
``subject_token_type=urn:ietf:params:aws:token-type:aws4_request`` (Google's AIP-4117).
Google's STS checks the request's shape, then EXECUTES it against AWS: AWS verifies the
signature and its date and answers who signed it (Arn, Account, UserId), which become
``assertion.arn``, ``assertion.account`` and ``assertion.userid`` for the provider's mapping.

Google's texts found: "AWS request has invalid format." (a capture on discuss.google.dev for a
request whose host header was not an AWS STS host). The others are marked unverified and listed
in the README's fidelity table. No flask here: the HTTP call to AWS is an injected ``AwsCaller``.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

import requests

from mock_gcp.errors import OAuthError
from mock_gcp.topology import Provider
from wiflab_core import json_limits
from wiflab_core.decisions import Trace

TARGET_RESOURCE_HEADER = "x-goog-cloud-target-resource"
GET_CALLER_IDENTITY = "GetCallerIdentity"
STS_API_VERSION = "2011-06-15"
SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"
# AWS STS's global and regional endpoints (sts.amazonaws.com, sts.us-east-1.amazonaws.com,
# and the China partition's sts.cn-north-1.amazonaws.com.cn).
_STS_HOST = re.compile(r"sts(\.[a-z]{2}(-[a-z]+)+-\d+)?\.amazonaws\.com(\.cn)?")
_ARN = re.compile(r"arn:aws[a-z-]*:(iam|sts)::(?P<account>\d{12}):(?P<resource>\S+)")
_SIGNED_HEADERS = re.compile(r"SignedHeaders=([^,\s]+)")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
# A GetCallerIdentity request is a few KB; its answer well under one.
MAX_SUBJECT_TOKEN_CHARS = 64 * 1024
MAX_AWS_RESPONSE_BYTES = 64 * 1024
AWS_TIMEOUT_SECONDS = 10.0

# Google's words (a capture: the request's host header was not an AWS STS host).
INVALID_FORMAT = "AWS request has invalid format."
# unverified: what Google says when the header is missing, or names another provider.
TARGET_RESOURCE_MISMATCH = (
    f"The {TARGET_RESOURCE_HEADER} header of the AWS request does not match the audience."
)
# unverified: AWS's own ErrorResponse, passed on with its code and message.
AWS_REFUSED = "Received invalid AWS response of type {code} with error message: {message}"
# unverified
AWS_UNREACHABLE = "Error connecting to AWS."
# unverified
ACCOUNT_MISMATCH = "The AWS account {account} of the caller is not the provider's account."
# unverified: a subject token type the provider does not take (a JWT for an AWS provider, a
# signed request for an OIDC one), worded as for a type STS does not know.
WRONG_TOKEN_TYPE = 'Invalid value for "subject_token_type".'


class AwsRefusal(OAuthError):
    """A refused AWS subject token (the STS module re-raises it as its own error)."""


def _invalid_grant(text: str) -> AwsRefusal:
    # unverified: the code (the capture shows the description only); as for OIDC tokens.
    return AwsRefusal(400, "invalid_grant", text)


@dataclass(frozen=True)
class SignedRequest:
    """The serialized request, as the client sent it."""

    url: str
    method: str
    headers: tuple[tuple[str, str], ...]
    body: str = ""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


@dataclass(frozen=True)
class AwsAnswer:
    """What AWS answered: its status and body."""

    status: int
    body: bytes


class AwsUnreachable(Exception):
    """AWS could not be reached (or answered nothing usable in time)."""


# method, url, headers, body -> AWS's answer; raises AwsUnreachable.
AwsCaller = Callable[[str, str, tuple[tuple[str, str], ...], str], AwsAnswer]


def http_caller(sts_url: str | None, timeout: float = AWS_TIMEOUT_SECONDS) -> AwsCaller:
    """Executes the signed request: at ``sts_url`` (the lab's AWS side; the signed Host header
    kept, so the signature still matches), or, with None, at the URL the client signed (real
    AWS, as Google does)."""
    session = requests.Session()
    session.trust_env = False

    def call(method: str, url: str, headers: tuple[tuple[str, str], ...], body: str) -> AwsAnswer:
        parts = urlsplit(url)
        target = url
        if sts_url is not None:
            base = sts_url.rstrip("/")
            target = f"{base}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
        try:
            with session.request(
                method,
                target,
                headers=dict(headers),
                data=body.encode("utf-8"),
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            ) as response:
                data = response.raw.read(MAX_AWS_RESPONSE_BYTES + 1, decode_content=True)
                return AwsAnswer(response.status_code, data)
        except (requests.RequestException, OSError, ValueError) as exc:
            raise AwsUnreachable(str(exc)) from None

    return call


def parse_subject_token(trace: Trace, token: str) -> SignedRequest:
    """The subject token as the clients write it; a part that is not as they write it is
    refused with Google's text, the check naming the part."""
    request = _parse(token)
    if isinstance(request, str):
        trace.check("aws.subject_token", False, "URL-encoded JSON {url, method, headers}", request)
        raise _invalid_grant(INVALID_FORMAT)
    trace.check("aws.subject_token", True, "URL-encoded JSON {url, method, headers}", None)
    return request


def _parse(token: str) -> SignedRequest | str:
    """The request, or what is wrong with it (the name of the part)."""
    if len(token) > MAX_SUBJECT_TOKEN_CHARS:
        return f"longer than {MAX_SUBJECT_TOKEN_CHARS} characters"
    text = unquote(token) if token.startswith("%7B") or token.startswith("%7b") else token
    try:
        doc = json_limits.loads(text, "subject_token")
    except json_limits.JsonInputError:
        return "not JSON"
    if not isinstance(doc, dict):
        return "not a JSON object"
    url, method, headers, body = (doc.get(k) for k in ("url", "method", "headers", "body"))
    if not isinstance(url, str) or not url:
        return "url: missing or not a string"
    if not isinstance(method, str) or not method:
        return "method: missing or not a string"
    if not isinstance(headers, list):
        return "headers: missing or not a list"
    pairs: list[tuple[str, str]] = []
    for i, header in enumerate(headers):
        if not isinstance(header, dict):
            return f"headers[{i}]: not an object"
        key, value = header.get("key"), header.get("value")
        if not isinstance(key, str) or not key or not isinstance(value, str):
            return f"headers[{i}]: key and value must be strings"
        if "\r" in key + value or "\n" in key + value or ":" in key:
            return f"headers[{i}]: not a valid header"
        pairs.append((key, value))
    if body is not None and not isinstance(body, str):
        return "body: not a string"
    return SignedRequest(url, method, tuple(pairs), body or "")


def check_request(trace: Trace, request: SignedRequest, audience: str) -> None:
    """The request is a signed GetCallerIdentity to an AWS STS host, for this provider."""
    parts = _aws_sts_url(request.url)
    expected_url = "https://sts[.REGION].amazonaws.com"
    if not trace.check("aws.url", parts is not None, expected_url, _shown_url(request.url)):
        raise _invalid_grant(INVALID_FORMAT)  # unverified: the text for this part
    assert parts is not None
    host = (parts.hostname or "").lower()
    host_header = (request.header("host") or "").lower()
    if not trace.check("aws.headers.host", host_header == host, host, host_header or None):
        raise _invalid_grant(INVALID_FORMAT)  # the capture: a host header not the URL's
    method = request.method.upper()
    if not trace.check("aws.method", method in ("POST", "GET"), "POST", request.method):
        raise _invalid_grant(INVALID_FORMAT)  # unverified
    params = dict(parse_qsl(parts.query))
    if method == "POST" and request.body:
        params.update(parse_qsl(request.body))
    action = params.get("Action")
    if not trace.check("aws.action", action == GET_CALLER_IDENTITY, GET_CALLER_IDENTITY, action):
        raise _invalid_grant(INVALID_FORMAT)  # unverified
    authorization = request.header("authorization") or ""
    signed = _SIGNED_HEADERS.search(authorization)
    signed_headers = signed.group(1).lower().split(";") if signed else []
    credential = _CREDENTIAL.search(authorization)
    shown = {
        "algorithm": authorization.partition(" ")[0] or None,
        "access_key_id": credential.group(1) if credential else None,
        "signed_headers": signed_headers,
    }
    if not trace.check(
        "aws.headers.authorization",
        authorization.startswith(SIGV4_ALGORITHM + " ") and signed is not None,
        f"{SIGV4_ALGORITHM} Credential=..., SignedHeaders=..., Signature=...",
        shown,
    ):
        raise _invalid_grant(INVALID_FORMAT)  # unverified
    target = request.header(TARGET_RESOURCE_HEADER)
    if not trace.check(
        f"aws.headers.{TARGET_RESOURCE_HEADER}", target == audience, audience, target
    ):
        raise _invalid_grant(TARGET_RESOURCE_MISMATCH)
    # Not required to be signed: google-auth (Python) adds the header after signing (its
    # SignedHeaders are host;x-amz-date[;x-amz-security-token]), and Google accepts it.


def _aws_sts_url(url: str) -> SplitResult | None:
    """The URL's parts when it is an AWS STS endpoint over https (no port, no user)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or port is not None or "@" in parts.netloc:
        return None
    return parts if _STS_HOST.fullmatch(host) else None


def _shown_url(url: str) -> str:
    return url if len(url) <= 200 else url[:200] + "…"


@functools.cache
def _sts_regions() -> frozenset[str]:
    """The regions where AWS STS answers, in every partition (botocore's endpoint data)."""
    import botocore.session

    session = botocore.session.Session()
    partitions = session.get_available_partitions()
    return frozenset(
        region
        for partition in partitions
        for region in session.get_available_regions("sts", partition_name=partition)
    )


def _region(host: str) -> str | None:
    """``us-east-1`` of ``sts.us-east-1.amazonaws.com``; None for the global endpoint."""
    labels = host.split(".")
    return labels[1] if len(labels) > 3 and labels[1] != "amazonaws" else None


def caller_identity(trace: Trace, request: SignedRequest, call: AwsCaller) -> dict[str, str]:
    """Executes the request against AWS: who signed it, or AWS's refusal in Google's words."""
    region = _region((urlsplit(request.url).hostname or "").lower())
    if region is not None and not trace.check(
        "aws.region", region in _sts_regions(), "a region where AWS STS answers", region
    ):
        # Its host does not resolve: Google cannot reach AWS (unverified: the text).
        raise _invalid_grant(AWS_UNREACHABLE)
    try:
        answer = call(request.method.upper(), request.url, request.headers, request.body)
    except AwsUnreachable as exc:
        trace.check("aws.call", False, "AWS STS answers", None, str(exc)[:200])
        raise _invalid_grant(AWS_UNREACHABLE) from None
    root = _xml(answer.body)
    if answer.status != 200:
        code = _text(root, "Code") or "Unknown"
        message = _text(root, "Message") or ""
        actual = {"status": answer.status, "code": code, "message": message}
        trace.check("aws.call", False, "200 GetCallerIdentityResponse", actual)
        raise _invalid_grant(AWS_REFUSED.format(code=code, message=message))
    identity = {
        "arn": _text(root, "Arn"),
        "account": _text(root, "Account"),
        "userid": _text(root, "UserId"),
    }
    if not trace.check(
        "aws.call", all(identity.values()), "200 GetCallerIdentityResponse", identity
    ):
        text = "AWS did not answer a GetCallerIdentityResponse"
        raise _invalid_grant(AWS_REFUSED.format(code="InvalidResponse", message=text))
    return {key: value or "" for key, value in identity.items()}


def _xml(body: bytes) -> ElementTree.Element | None:
    if len(body) > MAX_AWS_RESPONSE_BYTES or b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return None
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None


def _text(root: ElementTree.Element | None, name: str) -> str | None:
    """The text of the first element named ``name`` (in any namespace)."""
    if root is None:
        return None
    for element in root.iter():
        if element.tag.rpartition("}")[2] == name:
            return (element.text or "").strip() or None
    return None


def check_account(trace: Trace, identity: Mapping[str, str], provider: Provider) -> None:
    """The ARN's account is the provider's accountId."""
    assert provider.aws is not None
    match = _ARN.fullmatch(identity.get("arn", ""))
    account = match["account"] if match else None
    if not trace.check(
        "aws.account", account == provider.aws.account_id, provider.aws.account_id, account
    ):
        raise _invalid_grant(ACCOUNT_MISMATCH.format(account=account or identity.get("account")))


def verified_assertion(
    trace: Trace, token: str, provider: Provider, audience: str, call: AwsCaller
) -> dict[str, Any]:
    """``assertion`` for the provider's mapping: what AWS says of the signed request."""
    request = parse_subject_token(trace, token)
    check_request(trace, request, audience)
    identity = caller_identity(trace, request, call)
    check_account(trace, identity, provider)
    return dict(identity)
