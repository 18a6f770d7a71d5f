"""External-account credential configs: the files GOOGLE_APPLICATION_CREDENTIALS points at.

The same shape ``gcloud iam workload-identity-pools create-cred-config`` writes (gcloud 528,
``--credential-source-type=text`` for files; tests/deploy compares the two), so a config made
here for the local stack and one gcloud makes for Google Cloud differ only in their endpoints.
"""

from __future__ import annotations

from typing import Any

from wiflab_core.wire import AWS4_REQUEST_TOKEN_TYPE, JWT_TOKEN_TYPE

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


# AWS's instance metadata service, where gcloud's --aws configs point (google-auth reads the
# keys and region from the environment first, and only then from here).
AWS_IMDS = "http://169.254.169.254"
# The request google-auth signs; {region} from AWS_REGION, AWS_DEFAULT_REGION or the IMDS.
AWS_REGIONAL_CRED_VERIFICATION_URL = (
    "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
)


def aws_source(imds: str = AWS_IMDS, imdsv2: bool = False) -> dict[str, Any]:
    """``gcloud ... create-cred-config --aws [--enable-imdsv2]``'s credential source, key for
    key; ``imds``: where the instance metadata service is (the lab's, locally)."""
    base = imds.rstrip("/")
    source: dict[str, Any] = {
        "environment_id": "aws1",
        "region_url": f"{base}/latest/meta-data/placement/availability-zone",
        "url": f"{base}/latest/meta-data/iam/security-credentials",
        "regional_cred_verification_url": AWS_REGIONAL_CRED_VERIFICATION_URL,
    }
    if imdsv2:
        source["imdsv2_session_token_url"] = f"{base}/latest/api/token"
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
    subject_token_type: str | None = None,
) -> dict[str, Any]:
    """An external-account config; with service_account, it impersonates that account.
    The subject token type is a JWT's, or AWS's signed request for an AWS source.

    Without one, gcloud adds STS's introspection endpoint beside its token endpoint.
    """
    config: dict[str, Any] = {
        "universe_domain": "googleapis.com",
        "type": "external_account",
        "audience": audience,
        "subject_token_type": subject_token_type or _token_type(credential_source),
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


def _token_type(credential_source: dict[str, Any]) -> str:
    return AWS4_REQUEST_TOKEN_TYPE if "environment_id" in credential_source else JWT_TOKEN_TYPE


def introspection_url(token_url: str) -> str:
    """STS's RFC 7662 endpoint beside its token endpoint: .../v1/token -> .../v1/introspect."""
    return token_url.rstrip("/").removesuffix("/token") + "/introspect"
