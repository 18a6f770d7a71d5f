"""A pool whose providers trust the real CI issuers (GitHub Actions, an Azure managed identity,
a Kubernetes cluster, GitLab), each with Google's recommended mapping and condition for that
provider (the preset's template), and the bindings that let their workloads act as
oidc-federated, the account that may invoke the dump service. Applied at run time
(wiflab_lab.testing.TopologyOverride). Locally the lab IdP's preset paths stand in for the real
issuers (mock_gcp.backend.LocalDeviations.preset_issuers), so the topology is the one a real
project would have.
"""

from __future__ import annotations

from typing import Any

from idp_server.presets import PRESETS

POOL = "ci-pool"
FEDERATED = "oidc-federated@demo-project.iam.gserviceaccount.com"

# The victim's job, pod and identity: the presets' params.
GITHUB = {"owner": "acme", "owner_id": "1342004", "repository": "acme/app"}
GITHUB_REPOSITORY_ID = "891234567"
AZURE = {"tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}
AZURE_OBJECT_ID = "5f3a8e3c-1b2d-4c5e-9f7a-0b1c2d3e4f5a"
AZURE_RESOURCE = "api://9d6c2f2e-3a4b-4c5d-8e9f-a0b1c2d3e4f5"
KUBERNETES = {"namespace": "prod", "service_account": "deployer"}
GITLAB = {"namespace_path": "acme", "namespace_id": "4242"}


def provider_name(number: str, provider: str) -> str:
    return f"projects/{number}/locations/global/workloadIdentityPools/{POOL}/providers/{provider}"


def with_ci_pool(document: dict[str, Any]) -> dict[str, Any]:
    """The topology document plus the pool and the bindings (a new dict)."""
    number = document["project"]["number"]
    pool_path = (
        f"iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/{POOL}"
    )

    def provider(name: str, values: dict[str, str], audiences: list[str]) -> dict[str, Any]:
        template = PRESETS[name].template
        assert template is not None
        mapping, condition = template.filled(values)
        entry: dict[str, Any] = {
            "id": name,
            "attributeMapping": mapping,
            "oidc": {
                "issuerUri": PRESETS[name].issuer_for(**values),
                "allowedAudiences": audiences,
            },
        }
        if condition:
            entry["attributeCondition"] = condition
        return entry

    pool = {
        "id": POOL,
        "providers": [
            provider("github", GITHUB, []),
            provider("azure", AZURE, [AZURE_RESOURCE]),
            provider("kubernetes", {}, []),
            provider("gitlab", GITLAB, []),
        ],
    }
    subject = "system:serviceaccount:{namespace}:{service_account}".format(**KUBERNETES)
    members = [
        f"principalSet://{pool_path}/attribute.repository_id/{GITHUB_REPOSITORY_ID}",
        f"principal://{pool_path}/subject/{AZURE_OBJECT_ID}",
        f"principal://{pool_path}/subject/{subject}",
        f"principalSet://{pool_path}/attribute.namespace_id/{GITLAB['namespace_id']}",
    ]
    edited = {**document, "pools": [*document["pools"], pool]}
    accounts = []
    for account in document["serviceAccounts"]:
        if account["email"] == FEDERATED:
            bindings = account.get("policy", {}).get("bindings", [])
            grant = {"role": "roles/iam.workloadIdentityUser", "members": members}
            account = {**account, "policy": {"bindings": [*bindings, grant]}}
        accounts.append(account)
    edited["serviceAccounts"] = accounts
    return edited


def dump_as(
    endpoints: Any, info: dict[str, Any], service: str = "federated-auth-cloud-run"
) -> dict:
    """What the service saw of a caller with this external-account config: google-auth's
    federated token (the config without its impersonation URL, as the action's
    token_format=id_token does), IAM Credentials' generateIdToken for oidc-federated (its
    workloadIdentityUser binding gives getOpenIdToken), then GET /dump with that ID token."""
    import requests
    from google.auth.transport.requests import Request

    from wiflab_lab.testing import credentials_from_info

    federated = {k: v for k, v in info.items() if k != "service_account_impersonation_url"}
    credentials = credentials_from_info(federated)
    credentials.refresh(Request())
    url = endpoints.services[service].url
    api = endpoints.iamcredentials.api_endpoint.rstrip("/")
    minted = requests.post(
        f"{api}/v1/projects/-/serviceAccounts/{FEDERATED}:generateIdToken",
        json={"audience": url, "includeEmail": True},
        headers={"Authorization": f"Bearer {credentials.token}"},
        timeout=30,
    )
    assert minted.status_code == 200, minted.text
    answer = requests.get(
        f"{url}/dump", headers={"Authorization": f"Bearer {minted.json()['token']}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def impersonated_account(endpoints: Any, info: dict[str, Any]) -> str:
    """Whose access token google-auth gets with this (impersonating) config, as Google's
    tokeninfo says (the token carries the email scope for that)."""
    import requests
    from google.auth.transport.requests import Request

    from wiflab_lab.testing import credentials_from_info

    scopes = (
        "https://www.googleapis.com/auth/cloud-platform",
        "https://www.googleapis.com/auth/userinfo.email",
    )
    credentials = credentials_from_info(info, scopes)
    credentials.refresh(Request())
    info_ = requests.get(
        endpoints.google_issuer.tokeninfo, params={"access_token": credentials.token}, timeout=30
    )
    assert info_.status_code == 200, info_.text
    return str(info_.json()["email"])


def exchange(endpoints: Any, provider: str, token: str) -> Any:
    """STS's answer to the exchange of ``token`` for ``provider`` (RFC 8693, as google-auth)."""
    import requests

    audience = "//iam.googleapis.com/" + provider_name(endpoints.project.number, provider)
    return requests.post(
        endpoints.sts.token_url,
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "audience": audience,
            "scope": "https://www.googleapis.com/auth/cloud-platform",
            "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "subject_token": token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        },
        timeout=30,
    )


def exchange_then_impersonate(endpoints: Any, provider: str, token: str) -> Any:
    """STS's exchange of ``token`` for ``provider`` (which must succeed), then IAM
    Credentials' generateAccessToken for oidc-federated with it: that answer."""
    import requests

    exchanged = exchange(endpoints, provider, token)
    assert exchanged.status_code == 200, exchanged.text
    return requests.post(
        f"{endpoints.iamcredentials.api_endpoint.rstrip('/')}/v1/projects/-/serviceAccounts/"
        f"{FEDERATED}:generateAccessToken",
        json={"scope": ["https://www.googleapis.com/auth/cloud-platform"]},
        headers={"Authorization": f"Bearer {exchanged.json()['access_token']}"},
        timeout=30,
    )


# IAM Credentials' refusal when no binding lets the caller in (reference: gcp-wif-behaviour.md).
DENIED = "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."
