"""Step 1 of an AWS caller's chain: google-auth's own ``aws.Credentials`` signs
GetCallerIdentity, as the workload would (no SigV4 of ours).

The config is the ready-made one of ``state/credentials`` (what ``gcloud iam
workload-identity-pools create-cred-config --aws`` writes): ``aws-env`` for an IAM user, its
keys in the environment (``AWS_ACCESS_KEY_ID``...), and ``aws-imds`` (``--enable-imdsv2``) for
the EC2 instance's role, whose keys google-auth fetches from the IMDSv2 with a session token.
What is shown of the signed request is display-safe: the signature and the session token
shortened, the secret key never part of it.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import unquote

from wiflab_core.redact import shorten
from wiflab_lab.demo.endpoints import Endpoints
from wiflab_lab.demo.errors import GoogleError
from wiflab_lab.demo.plan import DemoPlan

AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)
# The region the IAM user's workload runs in (the EC2 instance's comes from its IMDS).
REGION = "us-east-1"
SIGNING_HINTS = (
    "google-auth could not sign: the stack's credential configs (endpoints.json "
    "credentials) and, for the EC2 role, its IMDS (aws.imds_url) must be up",
)
_SHOWN_SIGNATURE = 8
_MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class SignedRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: str


@dataclass(frozen=True)
class Signed:
    """The subject token google-auth made, the request it serializes, and how shown."""

    subject_token: str
    request: SignedRequest
    shown_headers: dict[str, str]
    source: str  # where google-auth found the keys


def sign(endpoints: Endpoints, plan: DemoPlan) -> Signed | GoogleError:
    """google-auth's subject token for the plan's AWS caller, or why it could not make one."""
    from google.auth import aws as google_aws
    from google.auth import exceptions
    from google.auth.transport.requests import Request

    aws = plan.aws
    assert aws is not None
    source = "aws-imds" if aws.imds else "aws-env"
    name = f"{plan.provider.pool_id}.{plan.provider.provider_id}.{source}"
    path = endpoints.credentials.get(name)
    if path is None:
        return GoogleError(None, "no config", f"endpoints.json credentials has no {name}")
    try:
        info = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        return GoogleError(None, "no config", f"{path}: {exc}")
    keys = None if aws.imds else endpoints.aws_identities[aws.arn]
    environment = (
        {}
        if keys is None
        else {
            "AWS_ACCESS_KEY_ID": keys.access_key_id,
            "AWS_SECRET_ACCESS_KEY": keys.secret_access_key,
            "AWS_SESSION_TOKEN": keys.session_token or "",
            "AWS_REGION": REGION,
        }
    )
    try:
        with _aws_environment(environment):
            credentials = google_aws.Credentials.from_info(info)
            token = credentials.retrieve_subject_token(Request())
    except (exceptions.GoogleAuthError, ValueError, OSError) as exc:
        return GoogleError(None, "not signed", f"google-auth ({source}): {exc}")
    request = _parse(token)
    if keys is None:
        imds = info.get("credential_source", {}).get("url", "the IMDS")
        where = (
            f"{name}: google-auth took an IMDSv2 session token (PUT /latest/api/token), "
            f"then the role's temporary keys from {imds}"
        )
    else:
        where = (
            f"{name}: google-auth read the IAM user's keys from the environment "
            f"(AWS_ACCESS_KEY_ID={keys.access_key_id}, AWS_SECRET_ACCESS_KEY never shown)"
        )
    return Signed(token, request, shown_headers(request.headers), where)


@contextmanager
def _aws_environment(values: Mapping[str, str]) -> Iterator[None]:
    """The AWS variables as the workload has them (none for the EC2 instance), restored after."""
    with mock.patch.dict(os.environ):
        for name in AWS_ENV:
            os.environ.pop(name, None)
        os.environ.update({k: v for k, v in values.items() if v})
        yield


def _parse(token: str) -> SignedRequest:
    doc: dict[str, Any] = json.loads(unquote(token))
    headers = {str(h["key"]): str(h["value"]) for h in doc.get("headers", [])}
    return SignedRequest(str(doc["method"]), str(doc["url"]), headers, str(doc.get("body") or ""))


def shown_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The signed headers, the signature and the session token shortened."""
    shown = {}
    for key, value in headers.items():
        if key.lower() == "authorization":
            head, found, signature = value.rpartition("Signature=")
            if found:
                value = f"{head}Signature={signature[:_SHOWN_SIGNATURE]}… ({len(signature)} chars)"
        elif key.lower() == "x-amz-security-token":
            value = shorten(value)
        shown[key] = value
    return shown


def shown_subject_token(token: str) -> str:
    """The serialized request as the STS form shows it: too short to replay."""
    return shorten(token)


def caller_identity(body: str) -> dict[str, str] | None:
    """Arn, Account and UserId of AWS's GetCallerIdentityResponse; None if it is not one."""
    if len(body) > _MAX_ANSWER_BYTES or "<!DOCTYPE" in body or "<!ENTITY" in body:
        return None
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    found = {
        element.tag.rpartition("}")[2]: (element.text or "").strip() for element in root.iter()
    }
    identity = {name: found.get(name, "") for name in ("Arn", "Account", "UserId")}
    return identity if all(identity.values()) else None
