"""AWS Signature Version 4, verified as AWS verifies it, with botocore's own signer.

The signature is never computed here: the incoming request is rebuilt as a botocore
``AWSRequest`` (its method, path, query, body and exactly the headers it says it signed, the
``Host`` among them as the client signed it) and botocore's ``SigV4Auth`` computes the
canonical request, the string to sign and the signature, which is compared with the one
sent in constant time (``hmac.compare_digest``).

Around that, AWS's checks in the order a request meets them, each a ``Check`` of the
decision and each refusal AWS's code, status and text (the captures cited next to them;
``# unverified`` where none was found):

1. ``auth.header``: an ``Authorization`` header (else MissingAuthenticationToken);
2. ``auth.parsed``: ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``
   and an ``X-Amz-Date`` (else IncompleteSignature);
3. ``auth.credential``: five slash-delimited elements, key/date/region/service/aws4_request;
4. ``auth.signed_headers``: ``host`` and ``x-amz-date`` among them;
5. ``auth.date``: the request's time within 15 minutes of now (else SignatureDoesNotMatch,
   "Signature expired: ..." / "Signature not yet current: ...");
6. ``auth.scope``: the credential's region is the endpoint's (``sts.REGION.amazonaws.com``;
   ``sts.amazonaws.com`` is ``us-east-1``) and its service ``sts``;
7. ``auth.access_key``: a key AWS knows (else InvalidClientTokenId);
8. ``auth.session_token``: temporary keys (``ASIA``) need their session token, unexpired;
9. ``auth.signature``: the signature botocore computes is the one sent.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from aws_side.identities import Identities, Identity
from wiflab_core.decisions import Decision, Refusal, Trace

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "sts"
GLOBAL_HOST = "sts.amazonaws.com"
GLOBAL_REGION = "us-east-1"
# AWS accepts a request whose time is within 15 minutes of its own, either way.
WINDOW = timedelta(minutes=15)
AMZ_DATE = "%Y%m%dT%H%M%SZ"
_REGIONAL_HOST = re.compile(r"sts\.([a-z0-9-]+)\.amazonaws\.com")
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")

# AWS's texts. Captures: SignatureDoesNotMatch (aws/aws-cli#6676, moto); InvalidClientTokenId
# and ExpiredToken (cfn-sphere/cfn-sphere#55, miquella/vaulted#107); MissingAuthenticationToken
# (amzn/selling-partner-api-docs#3081, an STS ErrorResponse); IncompleteSignature's texts
# (hashicorp/vault#4939 and boto/boto3#2280 from STS, brendanhay/amazonka#316 from SES);
# the skew texts (aws/aws-cli#6676; QT-DevOps/DevOpsIssues#989, status 403); the region text
# (cognitect-labs/aws-api#27 from STS, namecheap/node-vault-client#25 from STS, 403).
SIGNATURE_DOES_NOT_MATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"
MISSING_TOKEN = "Request is missing Authentication Token"


def refusal(code: str, text: str) -> Refusal:
    """AWS's answer: its status for ``code`` (400 for a malformed signature, else 403)."""
    return Refusal(400 if code == "IncompleteSignature" else 403, code, text)


@dataclass(frozen=True)
class SignedRequest:
    """An incoming request as the client sent it: ``path`` and ``query`` as on the wire
    (percent-encoded), every header (repeats kept, ``Host`` as received) and the body."""

    method: str
    path: str
    query: str
    headers: Sequence[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        found = [v for k, v in self.headers if k.lower() == lname]
        return ",".join(found) if found else None

    @property
    def host(self) -> str:
        return (self.header("host") or "").strip().lower()


@dataclass(frozen=True)
class Verification:
    decision: Decision
    identity: Identity | None = None
    region: str | None = None


@dataclass(frozen=True)
class _Authorization:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


class _Refused(Exception):
    def __init__(self, refusal: Refusal):
        self.refusal = refusal


class _SignedHeadersOnly(SigV4Auth):
    """botocore's signer over exactly the headers the client listed in ``SignedHeaders``
    (botocore's own choice leaves out a few, e.g. ``user-agent``, that AWS signs when asked)."""

    def __init__(self, credentials: Credentials, region: str, signed: tuple[str, ...]):
        super().__init__(credentials, SERVICE, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name, value in request.headers.items():
            if name.lower() in self._signed:
                headers[name.lower()] = value
        return headers


@functools.cache
def known_regions() -> frozenset[str]:
    """The regions of AWS's ``aws`` partition where STS answers (botocore's endpoint data)."""
    import botocore.session

    return frozenset(botocore.session.Session().get_available_regions(SERVICE))


def endpoint_region(host: str) -> str | None:
    """The region an AWS STS host serves; None for any other host (e.g. 127.0.0.1:PORT,
    where a client was pointed with ``endpoint_url``: any region is then its own)."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == GLOBAL_HOST:
        return GLOBAL_REGION
    if (match := _REGIONAL_HOST.fullmatch(name)) is not None:
        return match.group(1)
    return None


def verify(request: SignedRequest, identities: Identities, now: datetime) -> Verification:
    """AWS's verdict on ``request``'s signature at ``now``: the decision of its checks and,
    when allowed, the identity that signed it."""
    trace = Trace()
    try:
        auth = _authorization(request, trace)
        _check_date(request, auth, trace, now)
        region = _check_scope(request, auth, trace)
        identity = _check_key(request, auth, identities, trace, now)
        _check_signature(request, auth, identity, trace)
    except _Refused as refused:
        return Verification(trace.decision("aws-sts", "verify", refused.refusal))
    return Verification(trace.decision("aws-sts", "verify"), identity, region)


def _authorization(request: SignedRequest, trace: Trace) -> _Authorization:
    header = request.header("authorization")
    if not trace.check("auth.header", header is not None, "an Authorization header"):
        raise _Refused(refusal("MissingAuthenticationToken", MISSING_TOKEN))
    assert header is not None
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        trace.check("auth.parsed", False, ALGORITHM, algorithm[:40])
        # unverified: AWS's text for another scheme (SigV2 "AWS KEY:SIG", "Bearer ...").
        raise _Refused(
            refusal("IncompleteSignature", f"Unsupported AWS 'algorithm': '{algorithm}'")
        )
    params: dict[str, str] = {}
    for pair in (p.strip() for p in rest.split(",")):
        if not pair:
            continue
        key, equal, value = pair.partition("=")
        if not equal:
            trace.check("auth.parsed", False, "key=value pairs", pair[:80])
            raise _Refused(
                refusal(
                    "IncompleteSignature",
                    f"'{pair}' not a valid key=value pair (missing equal-sign) in "
                    f"Authorization header: '{header}'.",
                )
            )
        params.setdefault(key.strip(), value.strip())
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not params.get(name)
    ]
    if request.header("x-amz-date") is None:
        # AWS's text names the Date header too; this lab asks for X-Amz-Date (every SDK
        # sends it), as a request with Date alone is signed by no client it serves.
        missing.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if missing:
        trace.check("auth.parsed", False, "Credential, SignedHeaders, Signature, X-Amz-Date")
        raise _Refused(
            refusal("IncompleteSignature", " ".join([*missing, f"Authorization={header}"]))
        )
    trace.check("auth.parsed", True, "Credential, SignedHeaders, Signature, X-Amz-Date")
    credential = params["Credential"]
    parts = credential.split("/")
    if len(parts) != 5:
        trace.check("auth.credential", False, "KEY/DATE/REGION/SERVICE/aws4_request", credential)
        raise _Refused(
            refusal(
                "IncompleteSignature",
                "Credential must have exactly 5 slash-delimited elements, e.g. "
                f"keyid/date/region/service/term, got '{credential}'",
            )
        )
    key, date, region, service, terminator = parts
    if terminator != "aws4_request":
        trace.check("auth.credential", False, "aws4_request", terminator)
        # unverified: AWS's text for another terminator.
        raise _Refused(
            refusal(
                "SignatureDoesNotMatch",
                f"Credential should be scoped with a valid terminator: 'aws4_request', "
                f"not '{terminator}'. ",
            )
        )
    trace.check("auth.credential", True, "KEY/DATE/REGION/SERVICE/aws4_request", credential)
    signed = tuple(h.strip().lower() for h in params["SignedHeaders"].split(";"))
    for required, text in (
        # unverified: AWS's texts for a request that does not sign them.
        ("host", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."),
        ("x-amz-date", "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."),
    ):
        if required not in signed:
            trace.check("auth.signed_headers", False, required, ";".join(signed))
            raise _Refused(refusal("IncompleteSignature", text))
    trace.check("auth.signed_headers", True, "host;x-amz-date", ";".join(signed))
    return _Authorization(key, date, region, service, signed, params["Signature"])


def _check_date(request: SignedRequest, auth: _Authorization, trace: Trace, now: datetime) -> None:
    stamp = (request.header("x-amz-date") or "").strip()
    signed_at = _parse_amz(stamp)
    if signed_at is None:
        trace.check("auth.date", False, "YYYYMMDDTHHMMSSZ", stamp[:40])
        # unverified: AWS's text for a malformed X-Amz-Date.
        raise _Refused(
            refusal(
                "IncompleteSignature",
                f"Date must be in ISO-8601 'basic format'. Got '{stamp}'. "
                "See http://en.wikipedia.org/wiki/ISO_8601",
            )
        )
    now = now.astimezone(UTC).replace(microsecond=0)
    early, late = now - WINDOW, now + WINDOW
    window = f"{_amz(early)} .. {_amz(late)}"
    if not trace.check("auth.date", early <= signed_at <= late, window, stamp):
        text = (
            f"Signature expired: {stamp} is now earlier than {_amz(early)} ({_amz(now)} - 15 min.)"
            if signed_at < early
            else f"Signature not yet current: {stamp} is still later than {_amz(late)} "
            f"({_amz(now)} + 15 min.)"
        )
        raise _Refused(refusal("SignatureDoesNotMatch", text))
    if auth.date != stamp[:8]:
        trace.check("auth.date_scope", False, stamp[:8], auth.date)
        # unverified: AWS's text for a credential dated another day than the request.
        raise _Refused(
            refusal(
                "SignatureDoesNotMatch",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{auth.date}' != '{stamp[:8]}', from '{stamp}'.",
            )
        )


def _check_scope(request: SignedRequest, auth: _Authorization, trace: Trace) -> str:
    host = request.host
    expected = endpoint_region(host)
    if expected is None:
        valid = auth.region in known_regions()
        trace.check("auth.scope.region", valid, "an AWS region", auth.region)
        if not valid:
            raise _Refused(
                refusal(
                    "SignatureDoesNotMatch",
                    f"Credential should be scoped to a valid region, not '{auth.region}'. ",
                )
            )
    elif not trace.check("auth.scope.region", auth.region == expected, expected, auth.region):
        # The global endpoint names the region it got (cognitect-labs/aws-api#27); a
        # regional one does not (hashicorp/terraform-provider-aws#34865).
        text = (
            f"Credential should be scoped to a valid region, not '{auth.region}'. "
            if expected == GLOBAL_REGION and host.startswith(GLOBAL_HOST)
            else "Credential should be scoped to a valid region. "
        )
        raise _Refused(refusal("SignatureDoesNotMatch", text))
    if not trace.check("auth.scope.service", auth.service == SERVICE, SERVICE, auth.service):
        # unverified: AWS's text for a credential scoped to another service.
        raise _Refused(
            refusal(
                "SignatureDoesNotMatch",
                f"Credential should be scoped to correct service: '{SERVICE}'. ",
            )
        )
    return auth.region


def _check_key(
    request: SignedRequest,
    auth: _Authorization,
    identities: Identities,
    trace: Trace,
    now: datetime,
) -> Identity:
    identity = identities.by_access_key(auth.access_key)
    if not trace.check(
        "auth.access_key", identity is not None, "a known access key", auth.access_key
    ):
        raise _Refused(refusal("InvalidClientTokenId", INVALID_TOKEN))
    assert identity is not None
    token = request.header("x-amz-security-token")
    if identity.session_token is None:
        # unverified: a session token sent with a long-term key is refused as invalid.
        if not trace.check(
            "auth.session_token", token is None, "none (a long-term key)", _said(token)
        ):
            raise _Refused(refusal("InvalidClientTokenId", INVALID_TOKEN))
        return identity
    matches = token is not None and hmac.compare_digest(
        token.strip().encode("utf-8", "surrogateescape"), identity.session_token.encode()
    )
    if not trace.check("auth.session_token", matches, "the key's session token", _said(token)):
        raise _Refused(refusal("InvalidClientTokenId", INVALID_TOKEN))
    expiration = identity.expiration
    if expiration is not None and now >= expiration:
        trace.check("auth.token_expiry", False, f"before {_amz(expiration)}", _amz(now))
        raise _Refused(refusal("ExpiredToken", EXPIRED_TOKEN))
    return identity


def _check_signature(
    request: SignedRequest, auth: _Authorization, identity: Identity, trace: Trace
) -> None:
    credentials = Credentials(
        identity.access_key_id, identity.secret_access_key, identity.session_token
    )
    signer = _SignedHeadersOnly(credentials, auth.region, auth.signed_headers)
    headers = HTTPHeaders()
    for name, value in request.headers:
        if name.lower() in auth.signed_headers:
            headers[name] = value
    rebuilt = AWSRequest(
        method=request.method.upper(),
        # The host is the signed Host header (among ``headers``), not the URL's; the path as
        # on the wire (botocore encodes it once more, as AWS does for services but S3).
        url="https://localhost/" + request.path.lstrip("/"),
        data=request.body,
        headers=headers,
        params=parse_qsl(request.query, keep_blank_values=True),
    )
    rebuilt.context["timestamp"] = (request.header("x-amz-date") or "").strip()
    canonical = signer.canonical_request(rebuilt)
    expected = signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt)
    sent = auth.signature.encode("utf-8", "surrogateescape")
    matches = hmac.compare_digest(expected.encode(), sent)
    body_hash = request.header("x-amz-content-sha256")
    if (
        matches
        and body_hash is not None
        and body_hash.strip() != hashlib.sha256(request.body).hexdigest()
    ):
        # unverified: STS checks a signed X-Amz-Content-Sha256 against the body it got.
        matches = False
    trace.check(
        "auth.signature",
        matches,
        "the signature of the canonical request (botocore SigV4Auth)",
        auth.signature[:12] + "...",
        detail="" if matches else "signed with another secret, or the request changed since",
    )
    if not matches:
        raise _Refused(refusal("SignatureDoesNotMatch", SIGNATURE_DOES_NOT_MATCH))


def _parse_amz(stamp: str) -> datetime | None:
    if _AMZ_DATE.fullmatch(stamp) is None:
        return None
    try:
        return datetime.strptime(stamp, AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:  # the right shape, no such day (20261301T...)
        return None


def _amz(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(AMZ_DATE)


def _said(token: str | None) -> str:
    return "none" if token is None else "a session token"
