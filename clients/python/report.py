"""What the sample clients print: shortened tokens, and Google's refusals as one line."""

from __future__ import annotations

import html
import json
import re
import sys
from typing import NoReturn

from google.api_core.exceptions import GoogleAPICallError
from google.auth.exceptions import OAuthError, RefreshError


def short(token: str) -> str:
    """Enough of a token to recognise it, never enough to use it."""
    return f"{token[:20]}...({len(token)} chars)"


def fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def sts_refusal(error: OAuthError) -> str:
    """google-auth raises OAuthError(text, response body) when STS refuses the exchange."""
    try:
        body = json.loads(error.args[1])
        reason = f"{body['error']}: {body['error_description']}"
    except (IndexError, KeyError, TypeError, ValueError):
        reason = str(error.args[0] if error.args else error)
    return (
        f"STS refused the token exchange: {reason} Check the provider's attribute condition "
        "and mapping against the subject token's claims (aud, iss, exp)."
    )


def impersonation_refusal(error: RefreshError, account: str) -> str:
    """google-auth raises RefreshError(text, response body) when generateAccessToken refuses."""
    try:
        body = json.loads(error.args[1])["error"]
        reason = f"{body['status']}: {body['message']}"
    except (IndexError, KeyError, TypeError, ValueError):
        reason = str(error)
    return (
        f"IAM Credentials refused to impersonate {account}: {reason} Check that the federated "
        f"principal holds roles/iam.workloadIdentityUser on {account}."
    )


def iam_refusal(error: GoogleAPICallError, account: str) -> str:
    try:  # over REST, the response holds Google's JSON error
        body = error.response.json()["error"]
    except (AttributeError, KeyError, TypeError, ValueError):
        body = {}  # over gRPC, the exception itself
    status = body.get("status", getattr(error.grpc_status_code, "name", error.code))
    message = body.get("message", error.message)
    return (
        f"IAM Credentials refused: {status}: {message} Check that the federated principal "
        f"holds roles/iam.workloadIdentityUser on {account}."
    )


def service_refusal(status: int, page: str, account: str) -> str:
    """Cloud Run refuses with an HTML page; its <h2> says why."""
    found = re.search(r"<h2>(.*?)</h2>", page, re.S)
    text = html.unescape(re.sub(r"<[^>]+>", "", found[1])) if found else page.strip()[:200]
    hint = {
        401: "Check that the audience (WIF_AUDIENCE, else WIF_SERVICE_URL) is the service's URL.",
        403: f"Check that {account} holds roles/run.invoker on the service.",
    }.get(status, "")
    return f"the service refused the call: {status} {text} {hint}".rstrip()
