"""A test applies its own topology (pools, providers, bindings) to the running stand-in with
the plugin's wif_topology, and the change is undone afterwards. STS, IAM Credentials and the
Cloud Run front ends all follow it at once."""

from __future__ import annotations

import pytest
import requests
from google.api_core.exceptions import Forbidden
from google.auth.exceptions import OAuthError
from google.auth.transport.requests import Request

from e2e.names import FEDERATED_SA, LAB_PROVIDER, SERVICE, TARGET_SA


def generate_id_token(wif_stack, credentials, account: str, audience: str) -> str:
    return (
        wif_stack.iam_client(credentials)
        .generate_id_token(
            name=f"projects/-/serviceAccounts/{wif_stack.account(account)}",
            audience=audience,
            include_email=True,
        )
        .token
    )


def bindings_of(document: dict, email: str) -> list[dict]:
    account = next(sa for sa in document["serviceAccounts"] if sa["email"] == email)
    return account["policy"]["bindings"]


def test_a_binding_applied_for_a_while_takes_effect_and_is_undone(
    wif_stack, wif_topology, external_account_credentials
):
    dave = external_account_credentials(LAB_PROVIDER, profile="dave")
    with pytest.raises(Forbidden):
        generate_id_token(wif_stack, dave, FEDERATED_SA, "https://a.wiflab.test")

    document = wif_topology.document()
    group2 = "principalSet://iam.googleapis.com/{}/group/group2".format(
        wif_stack.topology.pool_name("oidc-pool-run")
    )
    bindings_of(document, wif_stack.account(FEDERATED_SA))[0]["members"].append(group2)
    with wif_topology.applied(document):
        assert generate_id_token(wif_stack, dave, FEDERATED_SA, "https://a.wiflab.test")

    with pytest.raises(Forbidden):
        generate_id_token(wif_stack, dave, FEDERATED_SA, "https://a.wiflab.test")


def test_the_cloud_run_front_end_follows_an_applied_invoker_binding(
    wif_stack, wif_topology, external_account_credentials
):
    alice = external_account_credentials(LAB_PROVIDER, profile="alice")
    url = wif_stack.service_url(SERVICE)
    token = generate_id_token(wif_stack, alice, TARGET_SA, url)
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{url}/dump", headers=headers, timeout=10).status_code == 403

    document = wif_topology.document()
    service = next(s for s in document["services"] if s["name"] == SERVICE)
    service["policy"]["bindings"].append(
        {"role": "roles/run.invoker", "members": [f"serviceAccount:{wif_stack.account(TARGET_SA)}"]}
    )
    wif_topology.apply(document)

    dump = requests.get(f"{url}/dump", headers=headers, timeout=10)
    assert dump.status_code == 200
    assert dump.json()["identity"]["claims"]["email"] == wif_stack.account(TARGET_SA)


def test_a_relaxed_condition_admits_whom_the_example_refuses(
    wif_stack, wif_topology, external_account_credentials
):
    bob = external_account_credentials(LAB_PROVIDER, profile="bob")
    with pytest.raises(OAuthError, match="unauthorized_client"):
        bob.refresh(Request())

    document = wif_topology.document()
    pool = next(p for p in document["pools"] if p["id"] == "oidc-pool-run")
    provider = next(p for p in pool["providers"] if p["id"] == "oidc-provider-1")
    provider["attributeCondition"] = "attribute.isadmin in ['true', 'false']"
    wif_topology.apply(document)

    bob.refresh(Request())
    assert bob.token
