"""Cloud Resource Manager ``projects.get`` (v1 and v3), for the topology's project only.

What ``google.auth.default()`` asks of an external account: ``GET
https://cloudresourcemanager.googleapis.com/v1/projects/PROJECT_NUMBER`` with the caller's
token, reading ``projectId``. Any token the stand-in issued may read the project (unverified:
Google checks ``resourcemanager.projects.get``; a lab topology binds no project roles). Any
other project is a 403, as Google answers for projects that do not exist too (so as not to
tell which do); a name that cannot be a project at all is a 404 (unverified).
"""

from __future__ import annotations

import re
from typing import Any

from mock_gcp.backend import GoogleBackend
from mock_gcp.errors import ApiError
from wiflab_core.bearer import bearer_token

# Google's credential text (as IAM Credentials words it).
_CREDENTIALS_TEXT = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
# Project ids: 6-30 of lowercase letters, digits and hyphens, a letter first; numbers: digits.
_PROJECT = re.compile(r"^(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,19})$")
# unverified: the time the stand-in gives as the project's creation.
CREATE_TIME = "2024-01-01T00:00:00.000Z"


def _authenticate(backend: GoogleBackend, authorization: str | None) -> None:
    token = bearer_token(authorization)
    if token is None:
        raise ApiError(
            401,
            "UNAUTHENTICATED",
            f"Request is missing required authentication credential. {_CREDENTIALS_TEXT}",
        )
    issued = backend.tokens.find(token)
    if issued is None or backend.tokens.revoked(issued) is not None:
        raise ApiError(
            401,
            "UNAUTHENTICATED",
            f"Request had invalid authentication credentials. {_CREDENTIALS_TEXT}",
        )


def get(
    backend: GoogleBackend, version: int, name: str, authorization: str | None
) -> dict[str, Any]:
    """``projects/{name}``, name the project's id or number; ApiError otherwise."""
    _authenticate(backend, authorization)
    if not _PROJECT.match(name):
        raise ApiError(404, "NOT_FOUND", "Requested entity was not found.")  # unverified
    # Any project served here (mock_gcp.projects); one not loaded is one that does not exist.
    topology = backend.projects.by_number_or_id(name)
    if topology is None:
        if version == 1:
            raise ApiError(403, "PERMISSION_DENIED", "The caller does not have permission")
        resource = f"//cloudresourcemanager.googleapis.com/projects/{name}"
        permission = "resourcemanager.projects.get"
        raise ApiError(
            403,
            "PERMISSION_DENIED",
            f"Permission '{permission}' denied on resource '{resource}' (or it may not exist).",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "IAM_PERMISSION_DENIED",
                    "domain": "cloudresourcemanager.googleapis.com",
                    "metadata": {"permission": permission, "resource": f"projects/{name}"},
                }
            ],
        )
    if version == 1:
        return {
            "projectNumber": topology.project_number,
            "projectId": topology.project_id,
            "lifecycleState": "ACTIVE",
            "name": topology.project_id,
            "createTime": CREATE_TIME,
        }
    return {
        "name": f"projects/{topology.project_number}",
        "projectId": topology.project_id,
        "state": "ACTIVE",
        "displayName": topology.project_id,
        "createTime": CREATE_TIME,
        "updateTime": CREATE_TIME,
        "etag": f'W/"{topology.project_number}"',
    }
