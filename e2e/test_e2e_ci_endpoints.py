"""The real providers' token endpoints on the lab IdP, read by google-auth's own credential
sources, complete the chain to the dump service: Azure's instance metadata identity endpoint
(a url-sourced config: ``credential_source.url`` + ``headers: {Metadata: True}`` + format json
``access_token``, as Google's docs for Azure write it) and a Kubernetes projected token file
kept fresh (a file-sourced config). Each provider is Google's template for it (e2e.ci_topology).
"""

from __future__ import annotations

import time

import jwt
import pytest
import requests

from e2e.ci_topology import (
    AZURE_OBJECT_ID,
    AZURE_RESOURCE,
    DENIED,
    FEDERATED,
    GITLAB,
    KUBERNETES,
    dump_as,
    exchange,
    exchange_then_impersonate,
    impersonated_account,
    provider_name,
    with_ci_pool,
)
from wiflab_core import external_account
from wiflab_lab import ci_env
from wiflab_lab.projected_token import ProjectedToken


@pytest.fixture
def ci_pool(wif_stack, wif_topology):
    with wif_topology.applied(with_ci_pool(wif_topology.document())):
        yield wif_stack.endpoints


def config(endpoints, provider: str, source: dict) -> dict:
    return external_account.external_account(
        "//iam.googleapis.com/" + provider_name(endpoints.project.number, provider),
        source,
        token_url=endpoints.sts.token_url,
        service_account=FEDERATED,
        iamcredentials=endpoints.iamcredentials.api_endpoint,
    )


def imds_url(endpoints) -> str:
    return (
        f"{endpoints.idp.issuer}/metadata/identity/oauth2/token"
        f"?api-version=2018-02-01&resource={AZURE_RESOURCE}"
    )


def test_azure_imds_through_google_auths_url_source_reaches_the_service(ci_pool):
    source = {
        "url": imds_url(ci_pool),
        "headers": {"Metadata": "True"},
        "format": {"type": "json", "subject_token_field_name": "access_token"},
    }
    info = config(ci_pool, "azure", source)
    assert impersonated_account(ci_pool, info) == FEDERATED
    answer = dump_as(ci_pool, info)
    assert answer["identity"]["verified"] is True
    assert answer["identity"]["claims"]["email"] == FEDERATED


def test_azure_imds_without_the_metadata_header_fails_google_auth_with_azures_words(ci_pool):
    from google.auth import exceptions

    source = {
        "url": imds_url(ci_pool),
        "format": {"type": "json", "subject_token_field_name": "access_token"},
    }
    with pytest.raises(exceptions.RefreshError, match="Required metadata header not specified"):
        dump_as(ci_pool, config(ci_pool, "azure", source))


def test_another_managed_identity_of_the_tenant_is_refused_by_iam(ci_pool):
    """The tenant passes Google's condition; the binding names one identity's object id."""
    other = "0f0f0f0f-1111-4222-8333-444444444444"
    token = requests.get(
        imds_url(ci_pool) + f"&object_id={other}", headers={"Metadata": "true"}, timeout=10
    ).json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == other != AZURE_OBJECT_ID
    impersonated = exchange_then_impersonate(ci_pool, "azure", token)
    assert impersonated.status_code == 403
    assert impersonated.json()["error"]["message"] == DENIED


class Clock:
    def __init__(self) -> None:
        self.skew = 0.0

    def __call__(self) -> float:
        return time.time() + self.skew


def test_a_kubernetes_projected_token_file_kept_fresh_reaches_the_service(ci_pool, tmp_path):
    audience = "https://iam.googleapis.com/" + provider_name(ci_pool.project.number, "kubernetes")
    path = tmp_path / "token"
    clock = Clock()
    projected = ProjectedToken(
        path,
        lambda: ci_env.mint(ci_pool, "kubernetes", audience=audience, **KUBERNETES),
        clock=clock,
        poll_seconds=0.05,
    )
    projected.start()
    try:
        first = path.read_text()
        # 80 % of its lifetime later (on the helper's clock), the file holds a new token...
        clock.skew = projected.seconds_until_due() + 1
        for _ in range(200):
            if path.read_text() != first:
                break
            time.sleep(0.05)
        assert path.read_text() != first
    finally:
        projected.stop()
    claims = jwt.decode(path.read_text(), options={"verify_signature": False})
    assert claims["sub"] == "system:serviceaccount:prod:deployer"
    assert isinstance(claims["aud"], list)  # projected tokens carry a list
    # ...which google-auth's file source reads, to the service.
    info = config(ci_pool, "kubernetes", external_account.file_source(str(path)))
    assert impersonated_account(ci_pool, info) == FEDERATED
    assert dump_as(ci_pool, info)["identity"]["claims"]["email"] == FEDERATED


def test_a_gitlab_jobs_id_token_variable_written_to_a_file_reaches_the_service(ci_pool, tmp_path):
    """Google's GitLab guide: the job writes $GITLAB_OIDC_TOKEN to a file its config reads."""
    audience = "https://iam.googleapis.com/" + provider_name(ci_pool.project.number, "gitlab")
    job = ci_env.gitlab_environment(ci_pool, audience=audience, project_path="acme/infra", **GITLAB)
    path = tmp_path / ".ci_job_jwt_file"
    path.write_text(job["GITLAB_OIDC_TOKEN"] + "\n")  # echo $GITLAB_OIDC_TOKEN > file
    info = config(ci_pool, "gitlab", external_account.file_source(str(path)))
    assert dump_as(ci_pool, info)["identity"]["claims"]["email"] == FEDERATED


def test_a_gitlab_token_of_a_similar_group_is_refused_by_googles_condition(ci_pool):
    audience = "https://iam.googleapis.com/" + provider_name(ci_pool.project.number, "gitlab")
    job = ci_env.gitlab_environment(
        ci_pool, audience=audience, namespace_path="acme-evil", namespace_id="666"
    )
    exchanged = exchange(ci_pool, "gitlab", job["GITLAB_OIDC_TOKEN"])
    assert exchanged.status_code == 400
    assert exchanged.json() == {
        "error": "unauthorized_client",
        "error_description": "The given credential is rejected by the attribute condition.",
    }
