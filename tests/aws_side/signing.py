"""Requests signed for AWS's own hosts (with botocore, as any SDK signs them) and sent to the
local STS with the Host they were signed for."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlsplit

import requests
import time_machine
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from aws_side.identities import Identity

FORM = "Action=GetCallerIdentity&Version=2011-06-15"


def signed_headers(
    identity: Identity,
    url: str,
    *,
    region: str,
    body: str = FORM,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    at: datetime | None = None,
    secret: str | None = None,
) -> dict[str, str]:
    """The headers botocore's signer adds to ``method url`` (Host, X-Amz-Date, Authorization,
    X-Amz-Security-Token for temporary keys)."""
    credentials = Credentials(
        identity.access_key_id, secret or identity.secret_access_key, identity.session_token
    )
    request = AWSRequest(
        method=method,
        url=url,
        data=body.encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            **(headers or {}),
        },
    )
    if at is not None:
        with time_machine.travel(at, tick=False):
            SigV4Auth(credentials, "sts", region).add_auth(request)
    else:
        SigV4Auth(credentials, "sts", region).add_auth(request)
    found = dict(request.headers.items())
    found["Host"] = urlsplit(url).netloc
    return found


def send(
    local_url: str, url: str, headers: Mapping[str, str], body: str = FORM, method: str = "POST"
) -> requests.Response:
    """``method`` to the local STS, the path and query of ``url``, with ``headers`` as given
    (Host among them)."""
    parts = urlsplit(url)
    target = f"{local_url}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
    return requests.request(method, target, data=body.encode(), headers=dict(headers), timeout=10)
