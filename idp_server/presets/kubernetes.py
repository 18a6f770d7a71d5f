"""Kubernetes service-account tokens: self-managed clusters, GKE, EKS and AKS
(https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/,
https://docs.cloud.google.com/iam/docs/workload-identity-federation-with-kubernetes).

A projected token's ``aud`` is a LIST, its ``sub`` ``system:serviceaccount:NS:SA``, and the
pod, service account and node are in the nested ``kubernetes.io`` claim. Each cluster has its
own issuer, so Google's template needs no condition. A legacy (secret-based) token has the
issuer ``kubernetes/serviceaccount``, flat ``kubernetes.io/serviceaccount/*`` claims and no
``aud``, ``iat`` or ``exp``: STS cannot accept it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idp_server.presets.base import (
    Attack,
    Param,
    Preset,
    Template,
    audience_claim,
    jti,
    stable_uuid,
)

KUBERNETES_DOC = (
    "https://docs.cloud.google.com/iam/docs/workload-identity-federation-with-kubernetes"
)
LEGACY_ISSUER = "kubernetes/serviceaccount"
# The projected token's default lifetime (expirationSeconds 3600); kubelet refreshes at 80 %.
LIFETIME = 3600

TEMPLATE = Template(
    attribute_mapping={
        "google.subject": "assertion.sub",
        "attribute.namespace": "assertion['kubernetes.io']['namespace']",
        "attribute.service_account_name": "assertion['kubernetes.io']['serviceaccount']['name']",
        "attribute.pod": "assertion['kubernetes.io']['pod']['name']",
    },
    attribute_condition=None,
    placeholders={},
    source=KUBERNETES_DOC,
)

COMMON_PARAMS = {
    "namespace": Param("prod", "the pod's namespace"),
    "service_account": Param("deployer", "the pod's Kubernetes service account"),
    "pod": Param("deployer-7d4b9c6f5-x2x8q", "the pod's name"),
    "node": Param("node-pool-1-a1b2", "the node's name"),
}

VARIANTS = {
    "projected": "a projected service-account token: list aud, kubernetes.io claims",
    "legacy": "a legacy secret-based token: iss kubernetes/serviceaccount, no aud/iat/exp",
}


def _attacks(other_cluster: Mapping[str, str], cluster_word: str) -> dict[str, Attack]:
    return {
        "other_namespace": Attack(
            "the same service account name in another namespace whose name starts alike",
            {"namespace": "{namespace}-sandbox", "pod": "{service_account}-5f6d8b7c9-qq4zl"},
        ),
        "other_service_account": Attack(
            "another service account in the same namespace (anyone who may create pods there)",
            {"service_account": "default", "pod": "debug-shell"},
        ),
        "other_cluster": Attack(
            f"the same namespace and service account in another {cluster_word}",
            {},
            issuer_params=other_cluster,
        ),
        "legacy_token": Attack(
            "a legacy secret-based token of the service account (never expires)",
            {},
            variant="legacy",
        ),
    }


def _build(
    variant: str, p: Mapping[str, str], issuer: str, aud: list[str] | None, now: int
) -> dict[str, Any]:
    namespace, account = p["namespace"], p["service_account"]
    sub = f"system:serviceaccount:{namespace}:{account}"
    account_uid = stable_uuid("sa", issuer, namespace, account)
    if variant == "legacy":
        return {
            "iss": LEGACY_ISSUER,
            "kubernetes.io/serviceaccount/namespace": namespace,
            "kubernetes.io/serviceaccount/secret.name": f"{account}-token-x7k2p",
            "kubernetes.io/serviceaccount/service-account.name": account,
            "kubernetes.io/serviceaccount/service-account.uid": account_uid,
            "sub": sub,
        }
    return {
        "aud": audience_claim(aud, as_list=True),
        "exp": now + LIFETIME,
        "iat": now,
        "iss": issuer,
        "jti": jti(),
        "kubernetes.io": {
            "namespace": namespace,
            "node": {"name": p["node"], "uid": stable_uuid("node", issuer, p["node"])},
            "pod": {"name": p["pod"], "uid": stable_uuid("pod", issuer, namespace, p["pod"])},
            "serviceaccount": {"name": account, "uid": account_uid},
            # unverified: kube-apiserver sets warnafter only on tokens it extends; the lab
            # always sets it at the unextended expiry.
            "warnafter": now + LIFETIME,
        },
        "nbf": now,
        "sub": sub,
    }


def _preset(
    name: str,
    title: str,
    issuer: str,
    params: Mapping[str, Param],
    other_cluster: Mapping[str, str],
    cluster_word: str = "cluster",
    default_audience: str | None = None,
) -> Preset:
    return Preset(
        name=name,
        title=title,
        real_issuer=issuer,
        # unverified: a projected token's aud without an audience is the API server's; the
        # cluster's issuer here.
        default_audience=default_audience or issuer,
        params={**params, **COMMON_PARAMS},
        variants=VARIANTS,
        shared_issuer=False,
        id_claims={},
        string_id_claims=frozenset(),
        template=TEMPLATE,
        attacks=_attacks(other_cluster, cluster_word),
        longest={
            "namespace": "payments-gateway-production-europe-west1",
            "service_account": "payments-gateway-terraform-deployer-workload",
        },
        longest_variant="projected",
        build=_build,
        list_audience=True,
    )


KUBERNETES = _preset(
    "kubernetes",
    "Kubernetes (self-managed cluster)",
    "https://{cluster_host}",
    {
        "cluster_host": Param(
            "kubernetes.default.svc.cluster.local", "the --service-account-issuer host"
        )
    },
    {"cluster_host": "other.{cluster_host}"},
)

GKE = _preset(
    "gke",
    "Google Kubernetes Engine",
    "https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/{cluster}",
    {
        "project": Param("demo-project", "the cluster's project id"),
        "location": Param("us-central1", "the cluster's region or zone"),
        "cluster": Param("prod-cluster", "the cluster's name"),
    },
    {"cluster": "{cluster}-2"},
)

EKS = _preset(
    "eks",
    "Amazon EKS",
    "https://oidc.eks.{region}.amazonaws.com/id/{cluster_id}",
    {
        "region": Param("us-east-1", "the cluster's AWS region"),
        "cluster_id": Param("EXAMPLED539D4633E53DE1B71EXAMPLE", "the cluster's OIDC id"),
    },
    {"cluster_id": "0THER0D539D4633E53DE1B71EXAMPLE0"},
)

AKS = _preset(
    "aks",
    "Azure Kubernetes Service",
    # The trailing slash is part of AKS's issuer.
    "https://{region}.oic.prod-aks.azure.com/{tenant_id}/{cluster_guid}/",
    {
        "region": Param("eastus", "the cluster's Azure region"),
        "tenant_id": Param("72f988bf-86f1-41af-91ab-2d7cd011db47", "the Entra tenant id"),
        "cluster_guid": Param("f3e8a1c2-5b6d-4e7f-8a9b-0c1d2e3f4a5b", "the cluster's OIDC guid"),
    },
    {"cluster_guid": "{other_cluster_guid}"},
)
