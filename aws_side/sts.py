"""AWS STS's answer to a signed query-protocol request: ``GetCallerIdentity`` only.

The request is verified first (``aws_side.sigv4``), then its action read (query string, or
the form body of a POST). The answer is AWS's XML, or JSON when the client asks for it with
``Accept: application/json`` (STS answers both; the JSON shape is the one the AWS SDK for
Zig's tests and several verifiers capture:
``{"GetCallerIdentityResponse": {"GetCallerIdentityResult": {...}, "ResponseMetadata": ...}}``).
Errors are AWS's ``ErrorResponse`` with ``Type`` ``Sender``. No HTTP framework here: the
HTTP layer (``aws_side.sts_http``) hands in a ``SignedRequest`` and sends the ``Answer``.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from aws_side.identities import Identities, Identity
from aws_side.sigv4 import SignedRequest, Verification, verify
from wiflab_core.decisions import Decision, Refusal, Trace

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
VERSION = "2011-06-15"
ACTION = "GetCallerIdentity"
FORM = "application/x-www-form-urlencoded"
# Characters XML 1.0 cannot carry (a header echoed in a message may hold them).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd]")


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: str
    request_id: str
    decision: Decision
    identity: Identity | None = None


def answer(
    request: SignedRequest, identities: Identities, now: datetime, *, request_id: str | None = None
) -> Answer:
    """What AWS STS answers ``request`` at ``now``."""
    rid = request_id or str(uuid.uuid4())
    as_json = "application/json" in (request.header("accept") or "").lower()
    verification = verify(request, identities, now)
    decision = verification.decision
    if decision.refusal is not None:
        return _error(decision.refusal, rid, as_json, decision)
    action_decision = _action(request, verification)
    if action_decision.refusal is not None:
        return _error(action_decision.refusal, rid, as_json, action_decision)
    identity = verification.identity
    assert identity is not None
    return Answer(
        200,
        "application/json" if as_json else "text/xml",
        _identity_json(identity, rid) if as_json else _identity_xml(identity, rid),
        rid,
        action_decision,
        identity,
    )


def _action(request: SignedRequest, verification: Verification) -> Decision:
    trace = Trace()
    trace.extend(verification.decision.checks)
    params = dict(parse_qsl(request.query, keep_blank_values=True))
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if request.method.upper() == "POST" and content_type == FORM and request.body:
        try:
            form = request.body.decode("utf-8")
        except UnicodeDecodeError:
            form = ""
        params.update(parse_qsl(form, keep_blank_values=True))
    action = params.get("Action")
    version = params.get("Version", VERSION)
    if not trace.check("sts.action", action is not None, ACTION, action):
        # unverified: STS's answer to a signed request naming no action.
        return trace.decision("aws-sts", "unknown", Refusal(400, "MissingAction", "Missing Action"))
    if not trace.check("sts.action", action == ACTION and version == VERSION, ACTION, action):
        # unverified: the query protocol's text for an action it does not serve (the lab
        # serves GetCallerIdentity only).
        return trace.decision(
            "aws-sts",
            str(action)[:64],
            Refusal(
                400, "InvalidAction", f"Could not find operation {action} for version {version}"
            ),
        )
    return trace.decision("aws-sts", ACTION)


def _identity_xml(identity: Identity, rid: str) -> str:
    return (
        f'<GetCallerIdentityResponse xmlns="{NAMESPACE}">\n'
        "  <GetCallerIdentityResult>\n"
        f"    <Arn>{escape(identity.arn.text)}</Arn>\n"
        f"    <UserId>{escape(identity.user_id)}</UserId>\n"
        f"    <Account>{identity.account}</Account>\n"
        "  </GetCallerIdentityResult>\n"
        "  <ResponseMetadata>\n"
        f"    <RequestId>{rid}</RequestId>\n"
        "  </ResponseMetadata>\n"
        "</GetCallerIdentityResponse>\n"
    )


def _identity_json(identity: Identity, rid: str) -> str:
    return json.dumps(
        {
            "GetCallerIdentityResponse": {
                "GetCallerIdentityResult": {
                    "Account": identity.account,
                    "Arn": identity.arn.text,
                    "UserId": identity.user_id,
                },
                "ResponseMetadata": {"RequestId": rid},
            }
        },
        separators=(",", ":"),
    )


def _error(refusal: Refusal, rid: str, as_json: bool, decision: Decision) -> Answer:
    if as_json:
        # unverified: the JSON shape of an STS error.
        body = json.dumps(
            {
                "Error": {"Code": refusal.code, "Message": refusal.text, "Type": "Sender"},
                "RequestId": rid,
            },
            separators=(",", ":"),
        )
        return Answer(refusal.status, "application/json", body, rid, decision)
    body = (
        f'<ErrorResponse xmlns="{NAMESPACE}">\n'
        "  <Error>\n"
        "    <Type>Sender</Type>\n"
        f"    <Code>{refusal.code}</Code>\n"
        f"    <Message>{escape(_NOT_XML.sub('?', refusal.text))}</Message>\n"
        "  </Error>\n"
        f"  <RequestId>{rid}</RequestId>\n"
        "</ErrorResponse>\n"
    )
    return Answer(refusal.status, "text/xml", body, rid, decision)
