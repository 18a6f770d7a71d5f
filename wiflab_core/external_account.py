"""External-account credential configs: the files GOOGLE_APPLICATION_CREDENTIALS points at.

The same shape ``gcloud iam workload-identity-pools create-cred-config`` writes (gcloud 528,
``--credential-source-type=text`` for files; tests/deploy compares the two), so a config made
here for the local stack and one gcloud makes for Google Cloud differ only in their endpoints.
"""

from __future__ import annotations

from typing import Any

from wiflab_core.wire import JWT_TOKEN_TYPE

GOOGLE_STS_TOKEN_URL = "https://sts.googleapis.com/v1/token"
GOOGLE_IAMCREDENTIALS = "https://iamcredentials.googleapis.com"


def file_source(path: str) -> dict[str, Any]:
    return {"file": path, "format": {"type": "text"}}


def url_source(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    source: dict[str, Any] = {
        "url": url,
        "format": {"type": "json", "subject_token_field_name": "id_token"},
    }
    if headers:
        source["headers"] = headers
    return source


def executable_source(command: str, timeout_millis: int = 30000) -> dict[str, Any]:
    """Needs GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1 in the client's environment."""
    return {"executable": {"command": command, "timeout_millis": timeout_millis}}


def impersonation_url(service_account: str, iamcredentials: str = GOOGLE_IAMCREDENTIALS) -> str:
    return (
        f"{iamcredentials.rstrip('/')}/v1/projects/-/serviceAccounts/"
        f"{service_account}:generateAccessToken"
    )


def external_account(
    audience: str,
    credential_source: dict[str, Any],
    *,
    token_url: str = GOOGLE_STS_TOKEN_URL,
    service_account: str | None = None,
    iamcredentials: str = GOOGLE_IAMCREDENTIALS,
) -> dict[str, Any]:
    """An external-account config; with service_account, it impersonates that account.

    Without one, gcloud adds STS's introspection endpoint beside its token endpoint.
    """
    config: dict[str, Any] = {
        "universe_domain": "googleapis.com",
        "type": "external_account",
        "audience": audience,
        "subject_token_type": JWT_TOKEN_TYPE,
        "token_url": token_url,
        "credential_source": credential_source,
    }
    if service_account:
        config["service_account_impersonation_url"] = impersonation_url(
            service_account, iamcredentials
        )
    else:
        config["token_info_url"] = introspection_url(token_url)
    return config


def introspection_url(token_url: str) -> str:
    """STS's RFC 7662 endpoint beside its token endpoint: .../v1/token -> .../v1/introspect."""
    return token_url.rstrip("/").removesuffix("/token") + "/introspect"
