"""What to check when a step is refused: a few concrete lines per kind of refusal.

Each hint names the setting to look at (in the topology file and, where it helps, the gcloud
command that changes it on real Google Cloud). Google's own words are shown by the caller.
"""

from __future__ import annotations

from mock_gcp.iam import Caller
from wiflab_lab.demo.errors import GoogleError
from wiflab_lab.demo.plan import DemoPlan

WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"


def idp_hints(error: GoogleError) -> tuple[str, ...]:
    if error.status == 401:
        return ("the IdP guards /token: export IDP_TOKEN_SECRET=<its token secret> and run again",)
    return ("the IdP refused the claims it was sent: its error above names the field",)


def sts_hints(error: GoogleError, plan: DemoPlan, topology: str) -> tuple[str, ...]:
    provider = f"{topology}: pools → {plan.provider.pool_id} → {plan.provider.provider_id}"
    message = error.message
    kind = "aws" if plan.provider.aws is not None else "oidc"
    if plan.provider.aws is not None and "is not the provider's account" in message:
        return (
            f"the provider takes callers of AWS account {plan.provider.aws.account_id} only "
            f"(aws.accountId in {provider})",
            "sign as an identity of that account (--profile aws:NAME), or on Google Cloud a "
            "provider for the caller's account:",
            f"gcloud iam workload-identity-pools providers create-aws PROVIDER "
            f"--workload-identity-pool={plan.provider.pool_id} --location=global "
            "--account-id=ACCOUNT",
        )
    if "attribute condition" in message:
        return (
            f"the provider's attributeCondition refused this token ({provider})",
            "the values it read are shown above; pick a profile it accepts (--profile)",
            "or change the condition in the topology, or on Google Cloud:",
            f"gcloud iam workload-identity-pools providers update-{kind} "
            f"{plan.provider.provider_id} --workload-identity-pool={plan.provider.pool_id} "
            "--location=global --attribute-condition=EXPRESSION",
        )
    if "mapped attribute" in message:
        return (f"the provider's attributeMapping ({provider}) and the token's claims",)
    if "audience in ID Token" in message:
        return (
            f"the token's aud must be {plan.sts_audience}",
            f"or one of the provider's oidc.allowedAudiences ({provider})",
        )
    if "Error connecting" in message or "issuer" in message:
        return (
            "Google fetches ISS/.well-known/openid-configuration and its jwks_uri",
            "the provider's oidc.issuerUri must equal the token's iss; on gcp the IdP must be "
            "public (https, allowUnauthenticated)",
        )
    if error.code == "invalid_target":
        return (
            f"the pool or provider is disabled, deleted or missing ({provider})",
            "the project number in the audience must be the project's",
        )
    if "stale" in message or "expired" in message:
        return ("mint a fresh token (run the demo again); check this machine's clock",)
    return (f"compare the request above with the provider in {provider}",)


def iam_hints(
    error: GoogleError, plan: DemoPlan, caller: Caller | None, topology: str
) -> tuple[str, ...]:
    account = plan.account.email
    if error.status == 403 and "Permission" in error.message:
        member = caller.principal() if caller else "principal://…/subject/SUBJECT"
        return (
            f"bind a role to one of the caller's identities on {account}",
            f"in {topology}: serviceAccounts → {account} → policy.bindings, or on Google Cloud:",
            f"gcloud iam service-accounts add-iam-policy-binding {account} "
            f"--role={WORKLOAD_IDENTITY_USER} --member={member}",
            "or pick an account whose policy names the caller: --service-account EMAIL",
        )
    if error.status == 401:
        return (
            "IAM Credentials did not accept the federated token: it must come from the same "
            "Google (sts.token_url and iamcredentials.api_endpoint) and not be expired",
        )
    if error.status == 404:
        return (f"{account} does not exist in the project",)
    return ("the request body: Google's message above names the field",)


def run_hints(error: GoogleError, plan: DemoPlan, topology: str) -> tuple[str, ...]:
    account, service = plan.account.email, plan.service.name
    if error.status == 403:
        return (
            f"{account} needs roles/run.invoker on {service}",
            f"in {topology}: services → {service} → policy.bindings, or on Google Cloud:",
            f"gcloud run services add-iam-policy-binding {service} "
            f"--member=serviceAccount:{account} --role=roles/run.invoker",
        )
    if error.status == 401:
        return (
            "the ID token must be Google-signed and unexpired, with aud = the service URL "
            f"{plan.service_url} (or one of its customAudiences)",
        )
    return (f"is {service} the dump service (app: protected_app, which serves /dump)?",)


def unreachable_hints(started_here: bool, target: str) -> tuple[str, ...]:
    if started_here:
        return ("the stack this demo started stopped answering; run the demo again",)
    if target == "gcp":
        return (
            "is the deployment up, and are the URLs in the endpoints file its own?",
            "deploy/ writes that file; this machine needs HTTPS access to Google and Cloud Run",
        )
    return (
        "is the stack still running? `wiflab up` prints where its endpoints.json is",
        "then: wiflab demo --endpoints STATE_DIR/endpoints.json",
    )
