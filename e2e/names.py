"""Names from the example topology (wif.yaml) that the suite's scenarios refer to.

Service accounts are named by their id (before the @): ``wif_stack.account(name)`` gives the
email in the target's project, which differs between the local stand-in and Google Cloud.
"""

LAB_PROVIDER = "oidc-pool-run/oidc-provider-1"
TENANT_PROVIDER = "tenant-pool/tenant-provider"
SERVICE = "federated-auth-cloud-run"

FEDERATED_SA = "oidc-federated"  # alice by name, group1 by group: workloadIdentityUser
TARGET_SA = "target-serviceaccount"  # alice: Token Creator; group1: OpenID Token Creator
TENANT_SA = "bigquery-runner"  # every identity of tenant org-acme
WORKLOAD_SA = "workload-runner"  # the metadata server's account; may invoke the service

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
SIGNATURE_REMOVED = "SIGNATURE_REMOVED_BY_GOOGLE"
