"""The EC2 instance metadata service (IMDS), version 2, as AWS serves it to an instance:
the answers a client asks for to find its region and its role's credentials (what
google-auth's ``aws.py``, botocore's ``InstanceMetadataFetcher`` and the AWS CLI read).

- ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds`` (1-21600) gives a
  session token, sent back as ``X-aws-ec2-metadata-token`` on every GET; a missing or bad TTL
  is a 400. With IMDSv2 required (the default here, and EC2's default for new instance
  types), a GET without a token is a 401, as is one with an expired or unknown token.
- ``/latest/meta-data/placement/availability-zone`` (``us-east-1a``), ``.../region``,
  ``/latest/meta-data/iam/security-credentials/`` (the role's name), and
  ``.../security-credentials/ROLE``: the role's temporary keys, as AWS's JSON
  (Code/LastUpdated/Type/AccessKeyId/SecretAccessKey/Token/Expiration).

Documented at https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html
and .../instancedata-data-retrieval.html. Session tokens are sealed (HMAC over their expiry)
with a key this process makes, so no token is stored; the IMDS part runs one worker.

No HTTP framework here: ``aws_side.imds_http`` renders ``Answer``s.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aws_side.identities import Identity
from wiflab_core.decisions import Decision, Refusal, Trace

TOKEN_PATH = "/latest/api/token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
MAX_TTL = 21600
META = "/latest/meta-data/"
CREDENTIALS = META + "iam/security-credentials/"


def page(status: int, title: str) -> str:
    """IMDS's error page (its XHTML, with the status in the title). # unverified: the body
    as commonly printed by clients; the statuses are AWS's documented ones."""
    return (
        '<?xml version="1.0" encoding="iso-8859-1"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
        '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
        " <head>\n"
        f"  <title>{status} - {title}</title>\n"
        " </head>\n"
        " <body>\n"
        f"  <h1>{status} - {title}</h1>\n"
        " </body>\n"
        "</html>\n"
    )


_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    decision: Decision
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()


def _refused(trace: Trace, action: str, status: int) -> Answer:
    title = _TITLES[status]
    return Answer(
        status,
        page(status, title),
        trace.decision("imds", action, Refusal(status, title, page(status, title))),
        "text/html",
    )


class InstanceMetadata:
    """One instance's metadata: its region and its role (an assumed-role identity)."""

    def __init__(self, identity: Identity | None, region: str, *, require_token: bool = True):
        self.identity = identity
        self.region = region
        self.require_token = require_token
        self._key = secrets.token_bytes(32)

    @property
    def role(self) -> str | None:
        return None if self.identity is None else self.identity.arn.name

    # -- session tokens ------------------------------------------------------------------

    def issue_token(self, ttl: str | None, now: datetime, *, forwarded: bool = False) -> Answer:
        """A session token; ``forwarded``: the PUT came with ``X-Forwarded-For``, which IMDS
        refuses (403), so that a proxy on the instance cannot fetch tokens for others
        (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html)."""
        trace = Trace()
        if not trace.check("imds.not_forwarded", not forwarded, "no X-Forwarded-For", forwarded):
            return _refused(trace, "token", 403)
        seconds = _ttl(ttl)
        if not trace.check("imds.token_ttl", seconds is not None, f"1..{MAX_TTL}", ttl):
            return _refused(trace, "token", 400)
        assert seconds is not None
        expiry = int(now.timestamp()) + seconds
        payload = expiry.to_bytes(8, "big") + secrets.token_bytes(16)
        token = base64.urlsafe_b64encode(payload + self._mac(payload)).decode()
        return Answer(
            200,
            token,
            trace.decision("imds", "token"),
            headers=((TTL_HEADER, str(seconds)),),
        )

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]

    def _token_valid(self, token: str, now: datetime) -> bool:
        try:
            raw = base64.urlsafe_b64decode(token.strip().encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return False
        if len(raw) != 40:
            return False
        payload, mac = raw[:24], raw[24:]
        if not hmac.compare_digest(mac, self._mac(payload)):
            return False
        return int.from_bytes(payload[:8], "big") > now.timestamp()

    # -- metadata ------------------------------------------------------------------------

    def get(self, path: str, token: str | None, now: datetime) -> Answer:
        trace = Trace()
        if token is None:
            if not trace.check(
                "imds.session_token", not self.require_token, "an IMDSv2 session token", "none"
            ):
                return _refused(trace, "get", 401)
        elif not trace.check(
            "imds.session_token", self._token_valid(token, now), "a live session token", "sent"
        ):
            return _refused(trace, "get", 401)
        body = self._value(path)
        if not trace.check("imds.path", body is not None, "a metadata path", path[:100]):
            return _refused(trace, "get", 404)
        assert body is not None
        return Answer(200, body, trace.decision("imds", "get"))

    def _value(self, path: str) -> str | None:
        role = self.role
        values = {
            META: "ami-id\nhostname\ninstance-id\nplacement/\n" + ("iam/" if role else ""),
            META + "ami-id": "ami-0123456789abcdef0",
            META + "instance-id": self._instance_id(),
            META + "hostname": "ip-10-0-0-1.ec2.internal",
            META + "placement/": "availability-zone\nregion",
            META + "placement/availability-zone": f"{self.region}a",
            META + "placement/region": self.region,
        }
        if role is not None:
            values[META + "iam/"] = "info\nsecurity-credentials/"
            values[CREDENTIALS] = role
            # Without the slash too: google-auth asks for the role's name there (aws.py).
            values[CREDENTIALS.rstrip("/")] = role
            values[CREDENTIALS + role] = self._credentials()
            values[META + "iam/info"] = self._info()
        # A directory answers with or without its slash (google-auth asks for
        # ".../security-credentials", the AWS CLI for ".../security-credentials/").
        return values.get(path, values.get(path + "/"))

    def _instance_id(self) -> str:
        session = self.identity.arn.session if self.identity is not None else None
        return session if session and session.startswith("i-") else "i-0123456789abcdef0"

    def _credentials(self) -> str:
        identity = self.identity
        assert identity is not None
        issued = identity.issued or datetime.now(UTC)
        expiration = identity.expiration or issued + timedelta(hours=6)
        # AWS's own layout: two-space indent, " : " between name and value.
        fields = {
            "Code": "Success",
            "LastUpdated": _time(issued),
            "Type": "AWS-HMAC",
            "AccessKeyId": identity.access_key_id,
            "SecretAccessKey": identity.secret_access_key,
            "Token": identity.session_token or "",
            "Expiration": _time(expiration),
        }
        return json.dumps(fields, indent=2, separators=(",", " : "))

    def _info(self) -> str:
        identity = self.identity
        assert identity is not None
        profile = f"arn:aws:iam::{identity.account}:instance-profile/{identity.arn.name}"
        fields = {
            "Code": "Success",
            "LastUpdated": _time(identity.issued or datetime.now(UTC)),
            "InstanceProfileArn": profile,
            "InstanceProfileId": "AIPA" + identity.user_id[4:21],
        }
        return json.dumps(fields, indent=2, separators=(",", " : "))


def _ttl(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit() or len(value.strip()) > 6:
        return None
    seconds = int(value.strip())
    return seconds if 1 <= seconds <= MAX_TTL else None


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
