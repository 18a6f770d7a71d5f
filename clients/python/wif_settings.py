"""The settings every sample client reads (clients/README.md).

On Google Cloud only the environment variables matter. Against the local stack,
WIFLAB_ENDPOINTS names its endpoints.json, from which the endpoint overrides are taken.
"""

from __future__ import annotations

import json
import os
from typing import Any

from report import fail

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
GOOGLE_TOKENINFO = "https://oauth2.googleapis.com/tokeninfo"


def setting(name: str, meaning: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        fail(f"set {name} ({meaning}); see clients/README.md")
    return value


def local_endpoints() -> dict[str, Any] | None:
    """The local stack's endpoints.json, or None on Google Cloud (WIFLAB_ENDPOINTS unset)."""
    path = os.environ.get("WIFLAB_ENDPOINTS")
    if not path:
        return None
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        fail(f"WIFLAB_ENDPOINTS: cannot read {path}: {error}")


def iam_client_options(endpoints: dict[str, Any] | None) -> dict[str, Any]:
    """IAMCredentialsClient's keyword arguments: Google's defaults, or the local stack.

    gRPC cannot reach a plain-HTTP endpoint, so an override goes with the REST transport.
    """
    if endpoints is None:
        return {}
    api_endpoint = endpoints["iamcredentials"]["api_endpoint"]
    return {"transport": "rest", "client_options": {"api_endpoint": api_endpoint}}


def tokeninfo_url(endpoints: dict[str, Any] | None) -> str:
    return GOOGLE_TOKENINFO if endpoints is None else endpoints["google_issuer"]["tokeninfo"]
