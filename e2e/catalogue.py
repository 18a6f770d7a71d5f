"""The negative catalogue: every refusal the chain owes a caller, as one table.

Each row says how to provoke the refusal (through the official client where one sends that
request, else plain HTTP), and what Google answers: status, error code and exact text. A text
may quote values only known at run time ({iat}, {kid}, {issuer}...), taken from ``chain.facts``.

``words`` says whose words the text is: GOOGLE (the reference's record of Google's answers),
UNVERIFIED (no primary source; the stand-in's most plausible choice, listed in the README's
fidelity table) or LAB (this lab's own IdP). Against real Google Cloud an UNVERIFIED text is
recorded rather than asserted (see e2e/conftest.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from google.auth.transport.requests import Request
from google.protobuf import duration_pb2

from e2e import forge
from e2e.chain import Chain, Refusal
from e2e.lab_topology import (
    DISABLED_POOL_PROVIDER,
    DISABLED_PROVIDER,
    ERRORING_PROVIDER,
    EXPLICIT_AUDIENCE_PROVIDER,
    FORGE_ISSUER,
    FORGE_PROVIDER,
)
from e2e.names import (
    CLOUD_PLATFORM,
    FEDERATED_SA,
    LAB_PROVIDER,
    SERVICE,
    TARGET_SA,
    TENANT_PROVIDER,
    TENANT_SA,
    WORKLOAD_SA,
)
from wiflab_core import keys

GOOGLE, UNVERIFIED, LAB = "google", "unverified", "lab"

HOUR = 3600

Produce = Callable[[Chain], Refusal]


@dataclass(frozen=True)
class Case:
    id: str
    produce: Produce
    status: int
    code: str | None
    text: str
    words: str = GOOGLE
    requires: dict[str, Any] = field(default_factory=dict)

    def expected_text(self, facts: dict[str, Any]) -> str:
        return self.text.format_map(facts)

    def param(self) -> Any:
        marks = [pytest.mark.wif_requires(**self.requires)] if self.requires else []
        return pytest.param(self, id=self.id, marks=marks)


# -- how: STS, through google-auth's identity_pool credentials ---------------------------------


def exchange(profile: str = "alice", provider: str = LAB_PROVIDER, **claims: Any) -> Produce:
    """The exchange of a token the lab IdP signs for profile, with claims changed (a callable
    claim is computed from the chain)."""

    def produce(chain: Chain) -> Refusal:
        values = {name: v(chain) if callable(v) else v for name, v in claims.items()}
        return chain.refused_exchange(
            chain.stack.mint(profile, provider=provider, **values), provider
        )

    return produce


def exchange_at(iat: int, exp: int, provider: str = LAB_PROVIDER, forged: bool = False) -> Produce:
    """A token issued at now+iat, expiring at now+exp; forged: signed with the forge key."""

    def produce(chain: Chain) -> Refusal:
        now = int(time.time())
        times = {"iat": now + iat, "exp": now + exp}
        if forged:
            claims = chain.claims(provider=provider, iss=FORGE_ISSUER, **times)
            token = chain.forge_key.sign(claims)
        else:
            token = chain.stack.mint(provider=provider, **times)
        return chain.refused_exchange(token, provider)

    return produce


def exchange_token(make: Callable[[Chain], str], provider: str = LAB_PROVIDER) -> Produce:
    """The exchange of a token built by hand (forge)."""
    return lambda chain: chain.refused_exchange(make(chain), provider)


def exchange_audience(**parts: str | Callable[[Chain], str]) -> Produce:
    """A good token, sent to STS with the lab provider's audience parameter changed in parts
    (scheme, project, location, pool, provider)."""

    def produce(chain: Chain) -> Refusal:
        values = {
            "scheme": "//",
            "project": chain.stack.endpoints.project.number,
            "location": "global",
            "pool": "oidc-pool-run",
            "provider": "oidc-provider-1",
        }
        values.update({k: v(chain) if callable(v) else v for k, v in parts.items()})
        audience = (
            "{scheme}iam.googleapis.com/projects/{project}/locations/{location}/"
            "workloadIdentityPools/{pool}/providers/{provider}".format_map(values)
        )
        credentials = chain.credentials_with_audience(audience, chain.stack.mint())
        return chain.refused_refresh(credentials)

    return produce


def project_id(chain: Chain) -> str:
    return chain.stack.endpoints.project.id


def tenant_audience(chain: Chain) -> str:
    return chain.stack.audience(TENANT_PROVIDER)


def exchange_without_scope() -> Produce:
    def produce(chain: Chain) -> Refusal:
        return chain.refused_refresh(chain.credentials(LAB_PROVIDER, scopes=()))

    return produce


def sts_post(**fields: str) -> Produce:
    """A raw token-exchange request: what no client library would send."""
    return lambda chain: Refusal.of(chain.sts(**fields))


def foreign_issuer(chain: Chain) -> str:
    return chain.forge_key.sign(chain.claims(iss="https://evil.wiflab.test"))


def unknown_kid(chain: Chain) -> str:
    return chain.forge_key.sign(chain.claims())


def tampered(chain: Chain) -> str:
    return forge.tampered(chain.stack.mint(), sub="mallory@domain.com")


def alg_none(chain: Chain) -> str:
    return forge.unsigned(chain.claims(), forge.kid_of(chain.stack.mint()))


def hs256(chain: Chain) -> str:
    jwks = requests.get(chain.facts["issuer"] + "/certs", timeout=10).content
    return forge.hmac_signed(chain.claims(), forge.kid_of(chain.stack.mint()), jwks)


def es256_on_rsa_kid(chain: Chain) -> str:
    """An ES256 token whose kid names the forge provider's RSA key (an RSA-only JWKS)."""
    claims = chain.claims(provider=FORGE_PROVIDER, iss=FORGE_ISSUER)
    return keys.generate("ES256").sign(claims, headers={"kid": chain.forge_key.kid})


def no_kid(chain: Chain) -> str:
    return forge.without_kid(chain.forge_key, chain.claims())


def forged_without(claim: str) -> Callable[[Chain], str]:
    def make(chain: Chain) -> str:
        claims = chain.claims(provider=FORGE_PROVIDER, iss=FORGE_ISSUER)
        del claims[claim]
        return chain.forge_key.sign(claims)

    return make


# -- how: IAM Credentials, through google-auth and google-cloud-iam ---------------------------


def impersonate(profile: str, account: str, provider: str = LAB_PROVIDER) -> Produce:
    """google-auth's impersonated flow: STS, then generateAccessToken as account."""

    def produce(chain: Chain) -> Refusal:
        credentials = chain.credentials(provider, service_account=account, profile=profile)
        return chain.refused_refresh(credentials)

    return produce


def iam_call(
    profile: str,
    method: str,
    account: str,
    provider: str = LAB_PROVIDER,
    scopes: tuple[str, ...] | None = None,
    **request: Any,
) -> Produce:
    """An IAMCredentialsClient call by the federated principal itself (no impersonation)."""

    def produce(chain: Chain) -> Refusal:
        extra = {} if scopes is None else {"scopes": scopes}
        client = chain.iam(chain.credentials(provider, profile=profile, **extra))
        fields = dict(request)
        project = fields.pop("project", "-")
        name = _name(chain, account, project(chain) if callable(project) else project)
        chain.facts["account"] = chain.stack.account(account)
        return chain.refused_call(lambda: getattr(client, method)(name=name, **fields))

    return produce


def iam_post(
    account: str,
    method: str,
    body: Any,
    headers: Callable[[Chain], dict[str, str]] | None = None,
) -> Produce:
    """A raw IAM Credentials request, by default with alice's federated token. (The clients
    cannot send these: without a token they refuse to, and after a 401 they retry a refresh.)"""

    def produce(chain: Chain) -> Refusal:
        sent = headers(chain) if headers else bearer(federated_access_token)(chain)
        return Refusal.of(chain.iamcredentials_post(account, method, sent, body))

    return produce


def _name(chain: Chain, account: str, project: str) -> str:
    return f"projects/{project}/serviceAccounts/{chain.stack.account(account)}"


# -- how: Cloud Run's front end, the metadata server, the lab IdP (plain HTTP) -----------------


def call_service(headers: Callable[[Chain], dict[str, str]]) -> Produce:
    return lambda chain: Refusal.of(chain.service(SERVICE, headers=headers(chain)))


def bearer(token: Callable[[Chain], str], header: str = "Authorization"):
    return lambda chain: {header: f"Bearer {token(chain)}"}


def google_id_token(account: str, audience: str | None = None) -> Callable[[Chain], str]:
    """A Google-signed ID token for account (aud: the service URL unless given)."""

    def make(chain: Chain) -> str:
        return chain.id_token(account, audience or chain.stack.service_url(SERVICE))

    return make


def federated_access_token(chain: Chain) -> str:
    credentials = chain.credentials(profile="alice")
    credentials.refresh(Request())
    return credentials.token


def idp_token(chain: Chain) -> str:
    return chain.stack.mint()


def idp_token_for_service(chain: Chain) -> str:
    return chain.stack.mint(aud=chain.stack.service_url(SERVICE))


def tampered_id_token(chain: Chain) -> str:
    """oidc-federated's ID token claiming to be the workload account (which may invoke)."""
    token = google_id_token(TARGET_SA)(chain)
    return forge.tampered(token, email=chain.stack.account(WORKLOAD_SA))


def both_headers(chain: Chain) -> dict[str, str]:
    """A valid token in Authorization, a wrong-audience one in X-Serverless-Authorization."""
    good = google_id_token(FEDERATED_SA)(chain)
    wrong = google_id_token(FEDERATED_SA, "https://wrong.wiflab.test")(chain)
    return {"Authorization": f"Bearer {good}", "X-Serverless-Authorization": f"Bearer {wrong}"}


TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
IDENTITY_PATH = "/computeMetadata/v1/instance/service-accounts/default/identity"


def metadata_get(path: str, headers: dict[str, str]) -> Produce:
    return lambda chain: Refusal.of(chain.metadata(path, headers))


def idp_request(method: str, path: str, **kwargs: Any) -> Produce:
    return lambda chain: Refusal.of(chain.idp(method, path, **kwargs))


def idp_mint(claims: Callable[[Chain], Any]) -> Produce:
    return lambda chain: Refusal.of(chain.idp("POST", "/token", json=claims(chain)))


# -- the table ----------------------------------------------------------------------------------

BAD_AUDIENCE = (
    'Invalid value for "audience". This value should be the full resource name of the Identity '
    "Provider. See https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token for the "
    "list of possible formats."
)
BAD_TARGET = (
    'The target service indicated by the "audience" parameters is invalid. This might either be '
    "because the pool or provider is disabled or deleted or because it doesn't exist."
)
CONDITION_REJECTED = "The given credential is rejected by the attribute condition."
SUBJECT_TOO_LONG = (
    "The size of mapped attribute google.subject exceeds the 127 bytes limit. Either modify your "
    "attribute mapping or the incoming assertion to produce a mapped attribute that is less than "
    "127 bytes."
)
STALE = "ID Token issued at {iat} is stale to sign-in."
ISSUER_UNREACHABLE = "Error connecting to the given credential's issuer."
OPTIONS_OVER_4_MIB = json.dumps({"x": "y" * (4 * 1024 * 1024 - 7)})
WRONG_AUDIENCE = "The audience in ID Token [{aud}] does not match the expected audience."
UNSUPPORTED_ALG = (
    "The ID Token is signed with an unsupported algorithm {alg}. "
    "Supported algorithms are RS256 and ES256."
)
INVALID_ARGUMENT = "Request contains an invalid argument."
CREDENTIALS_HELP = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
RUN_FORBIDDEN = (
    "Your client does not have permission to get URL <code>/dump</code> from this server."
)
RUN_UNAUTHORIZED = "Your client does not have permission to the requested URL <code>/dump</code>."
NO_FLAVOR = (
    "Your client does not have permission to get URL <code>{path}</code> from this server. "
    "Missing Metadata-Flavor:Google header."
)

FORGE = {"providers": [FORGE_PROVIDER]}
SUBJECT_NOT_STRING = "The mapped attribute 'google.subject' must be of type STRING."
LIFETIME_OVER_1H = (
    "Access tokens for service account {account} can not have lifetimes of more than 1 hour. "
    "Use the Org Policy Constraint constraints/iam.allowServiceAccountCredentialLifetimeExtension "
    "to allow up to 12 hours."
)


LIFETIME_NOT_POSITIVE = "Lifetime of access token must be larger then zero."  # sic, Google's
# iamcredentials.v1.json SignJwtRequest.payload: Google's rule; as an error text, unverified.
SIGN_JWT_EXP = (
    "If the JWT Claims Set contains an expiration time (`exp`) claim, it must be an integer "
    "timestamp that is not in the past and no more than 12 hours in the future."
)


def denied(permission: str) -> str:
    return f"Permission '{permission}' denied on resource (or it may not exist)."


def sts(case_id: str, produce: Produce, code: str, text: str, **kwargs: Any) -> Case:
    return Case(f"sts-{case_id}", produce, 400, code, text, **kwargs)


def iam(case_id: str, produce: Produce, status: int, code: str, text: str, **kw: Any) -> Case:
    return Case(f"iam-{case_id}", produce, status, code, text, **kw)


def run(case_id: str, headers: Callable[[Chain], dict[str, str]], status: int, **kw: Any) -> Case:
    title, text = (
        ("Forbidden", RUN_FORBIDDEN) if status == 403 else ("Unauthorized", RUN_UNAUTHORIZED)
    )
    return Case(f"run-{case_id}", call_service(headers), status, title, text, **kw)


def metadata(case_id: str, path: str, headers: dict[str, str], status: int, text: str, **kw: Any):
    return Case(
        f"metadata-{case_id}",
        metadata_get(path, headers),
        status,
        None,
        text,
        requires={"metadata": True},
        **kw,
    )


def idp(case_id: str, produce: Produce, status: int, code: str, text: str) -> Case:
    return Case(f"idp-{case_id}", produce, status, code, text, words=LAB)


def no_token(chain: Chain) -> dict[str, str]:
    return {}


CLOUD_PLATFORM_SCOPES = [CLOUD_PLATFORM]
ID_TOKEN_BODY = {"audience": "https://a"}
NO_FLAVOR_TOKEN = NO_FLAVOR.replace("{path}", TOKEN_PATH)
WRONG = "https://wrong.wiflab.test"
EVIL = "https://evil.wiflab.test"
INVALID = "invalid_request"
ERROR_DENIED = "PERMISSION_DENIED"
ERROR_INVALID = "INVALID_ARGUMENT"
ERROR_UNAUTHENTICATED = "UNAUTHENTICATED"

# fmt: off
CASES: list[Case] = [
    # STS: the audience parameter, the pool and the provider
    sts("audience-project-id", exchange_audience(project=project_id), INVALID, BAD_AUDIENCE),
    sts("audience-https-form", exchange_audience(scheme="https://"), INVALID, BAD_AUDIENCE),
    sts("audience-regional", exchange_audience(location="us-east1"), INVALID, BAD_AUDIENCE),
    sts("audience-empty", sts_post(audience=""), INVALID, BAD_AUDIENCE),
    sts("unknown-pool", exchange_audience(pool="no-such-pool"), "invalid_target", BAD_TARGET),
    sts("unknown-provider", exchange_audience(provider="no-such-one"), "invalid_target",
        BAD_TARGET),
    sts("wrong-project-number", exchange_audience(project="999999999999"), "invalid_target",
        BAD_TARGET),
    sts("disabled-provider", exchange(provider=DISABLED_PROVIDER), "invalid_target", BAD_TARGET,
        requires={"providers": [DISABLED_PROVIDER]}),
    sts("disabled-pool", exchange(provider=DISABLED_POOL_PROVIDER), "invalid_target", BAD_TARGET,
        requires={"providers": [DISABLED_POOL_PROVIDER]}),
    # STS: the request's other fields
    sts("missing-scope", exchange_without_scope(), "invalid_scope", 'Invalid value for "scope".',
        words=UNVERIFIED),
    sts("grant-type", sts_post(grant_type="client_credentials"), "unsupported_grant_type",
        'Invalid value for "grant_type".', words=UNVERIFIED),
    sts("requested-token-type",
        sts_post(requested_token_type="urn:ietf:params:oauth:token-type:id_token"),
        INVALID, 'Invalid value for "requested_token_type".', words=UNVERIFIED),
    sts("subject-token-type-saml",
        sts_post(subject_token_type="urn:ietf:params:oauth:token-type:saml2"),
        INVALID, 'Invalid value for "subject_token_type".', words=UNVERIFIED),
    sts("subject-token-empty", sts_post(subject_token=""), INVALID,
        'Invalid value for "subject_token".', words=UNVERIFIED),
    sts("options-not-json", sts_post(options="{not json"), INVALID,
        'Invalid value for "options".', words=UNVERIFIED),
    sts("options-user-project-too-long", sts_post(options=json.dumps({"userProject": "p" * 33})),
        INVALID, 'Invalid value for "options.userProject".', words=UNVERIFIED),
    # STS: the subject token's structure, issuer and signature
    sts("not-a-jwt", exchange_token(lambda chain: "not-a-jwt"), "invalid_grant",
        "Unable to parse the ID Token.", words=UNVERIFIED),
    sts("no-kid", exchange_token(no_kid), "invalid_grant", "The ID Token header has no kid.",
        words=UNVERIFIED),
    sts("alg-none", exchange_token(alg_none), "invalid_grant", UNSUPPORTED_ALG.format(alg="none"),
        words=UNVERIFIED),
    sts("alg-hs256", exchange_token(hs256), "invalid_grant", UNSUPPORTED_ALG.format(alg="HS256"),
        words=UNVERIFIED),
    sts("options-over-4-mib", sts_post(options=OPTIONS_OVER_4_MIB), INVALID,
        'Invalid value for "options".', words=UNVERIFIED),
    sts("wrong-issuer", exchange_token(foreign_issuer), "invalid_grant",
        f"The issuer in ID Token {EVIL} does not match the expected one in config: {{issuer}}"),
    sts("no-iss", exchange_token(forged_without("iss"), FORGE_PROVIDER), "invalid_grant",
        f"The issuer in ID Token null does not match the expected one in config: {FORGE_ISSUER}",
        requires=FORGE),
    sts("unknown-kid", exchange_token(unknown_kid), "invalid_grant", ISSUER_UNREACHABLE),
    sts("alg-does-not-fit-key", exchange_token(es256_on_rsa_kid, FORGE_PROVIDER), "invalid_grant",
        ISSUER_UNREACHABLE, requires=FORGE),
    sts("tampered-signature", exchange_token(tampered), "invalid_grant",
        "Unable to verify the ID Token signature."),
    # STS: times
    sts("expired", exchange_at(iat=-2 * HOUR, exp=-HOUR), "invalid_grant", STALE),
    sts("stale-iat", exchange_at(iat=-30 * HOUR, exp=-7 * HOUR), "invalid_grant", STALE),
    sts("future-iat", exchange_at(iat=10 * 60, exp=HOUR), "invalid_grant", STALE,
        words=UNVERIFIED),
    sts("stale-iat-long-lived", exchange_at(-25 * HOUR, 10 * 365 * 24 * HOUR, FORGE_PROVIDER,
                                            forged=True), "invalid_grant", STALE, requires=FORGE),
    sts("no-exp", exchange_token(forged_without("exp"), FORGE_PROVIDER), "invalid_grant", STALE,
        requires=FORGE),
    sts("no-iat", exchange_token(forged_without("iat"), FORGE_PROVIDER), "invalid_grant",
        "ID Token issued at null is stale to sign-in.", requires=FORGE),
    # STS: the token's audience
    sts("wrong-audience", exchange(aud=WRONG), "invalid_grant", WRONG_AUDIENCE),
    sts("no-aud", exchange_token(forged_without("aud"), FORGE_PROVIDER), "invalid_grant",
        "The audience in ID Token [] does not match the expected audience.", requires=FORGE),
    sts("audience-of-another-provider", exchange(aud=tenant_audience), "invalid_grant",
        WRONG_AUDIENCE),
    sts("audience-not-allowed", exchange(provider=EXPLICIT_AUDIENCE_PROVIDER), "invalid_grant",
        WRONG_AUDIENCE, requires={"providers": [EXPLICIT_AUDIENCE_PROVIDER]}),
    # STS: attribute mapping and condition
    sts("condition-false", exchange("bob"), "unauthorized_client", CONDITION_REJECTED),
    sts("condition-other-tenant", exchange("other-tenant", TENANT_PROVIDER),
        "unauthorized_client", CONDITION_REJECTED),
    sts("condition-erroring", exchange(provider=ERRORING_PROVIDER), "unauthorized_client",
        CONDITION_REJECTED, requires={"providers": [ERRORING_PROVIDER]}),
    sts("condition-erroring-before-subject-missing",
        exchange(provider=ERRORING_PROVIDER, sub=None), "unauthorized_client",
        CONDITION_REJECTED, requires={"providers": [ERRORING_PROVIDER]}),
    sts("subject-over-127-bytes", exchange(sub="s" * 128), INVALID, SUBJECT_TOO_LONG),
    sts("subject-over-127-bytes-utf8", exchange(sub="é" * 64), INVALID,
        SUBJECT_TOO_LONG),
    sts("subject-not-a-string", exchange(sub=12345), "unauthorized_client", SUBJECT_NOT_STRING),
    sts("subject-missing", exchange(sub=None), "unauthorized_client", SUBJECT_NOT_STRING,
        words=UNVERIFIED),
    sts("groups-not-a-list", exchange(mygroups="group1"), "unauthorized_client",
        "The mapped attribute 'google.groups' must be of type LIST.", words=UNVERIFIED),
    # IAM Credentials: bindings
    iam("impersonate-no-workload-identity-user", impersonate("dave", FEDERATED_SA),
        403, ERROR_DENIED, denied("iam.serviceAccounts.getAccessToken")),
    iam("impersonate-from-other-pool", impersonate("acme-project", FEDERATED_SA, TENANT_PROVIDER),
        403, ERROR_DENIED, denied("iam.serviceAccounts.getAccessToken")),
    iam("impersonate-attribute-binding-other-pool", impersonate("alice", TENANT_SA),
        403, ERROR_DENIED, denied("iam.serviceAccounts.getAccessToken")),
    iam("id-token-no-binding",
        iam_call("alice", "generate_id_token", WORKLOAD_SA, audience="https://a"),
        403, ERROR_DENIED, denied("iam.serviceAccounts.getOpenIdToken")),
    iam("id-token-unknown-account",
        iam_call("alice", "generate_id_token", "no-such-account", audience="https://a"),
        403, ERROR_DENIED, denied("iam.serviceAccounts.getOpenIdToken")),
    iam("sign-blob-openid-creator-only", iam_call("carol", "sign_blob", TARGET_SA, payload=b"x"),
        403, ERROR_DENIED, denied("iam.serviceAccounts.signBlob")),
    iam("access-token-openid-creator-only",
        iam_call("carol", "generate_access_token", TARGET_SA, scope=CLOUD_PLATFORM_SCOPES),
        403, ERROR_DENIED, denied("iam.serviceAccounts.getAccessToken")),
    # IAM Credentials: the request
    iam("access-token-missing-scope",
        iam_call("alice", "generate_access_token", FEDERATED_SA, scope=[]),
        400, ERROR_INVALID, INVALID_ARGUMENT),
    iam("access-token-lifetime-over-1h",
        iam_call("alice", "generate_access_token", FEDERATED_SA, scope=CLOUD_PLATFORM_SCOPES,
                 lifetime=duration_pb2.Duration(seconds=2 * HOUR)),
        400, ERROR_INVALID, LIFETIME_OVER_1H),
    iam("access-token-lifetime-over-12h-extended",
        iam_call("acme-project", "generate_access_token", TENANT_SA, TENANT_PROVIDER,
                 scope=CLOUD_PLATFORM_SCOPES, lifetime=duration_pb2.Duration(seconds=13 * HOUR)),
        400, ERROR_INVALID, INVALID_ARGUMENT, words=UNVERIFIED),
    iam("project-id-in-name",
        iam_call("alice", "generate_id_token", FEDERATED_SA, project=project_id, audience="https://a"),
        400, ERROR_INVALID, INVALID_ARGUMENT),
    iam("id-token-no-audience", iam_call("alice", "generate_id_token", FEDERATED_SA),
        400, ERROR_INVALID, INVALID_ARGUMENT, words=UNVERIFIED),
    iam("sign-jwt-exp-over-12h",
        iam_call("alice", "sign_jwt", TARGET_SA, payload='{"exp": 99999999999}'),
        400, ERROR_INVALID, SIGN_JWT_EXP, words=UNVERIFIED),
    iam("sign-jwt-exp-in-the-past",
        iam_call("alice", "sign_jwt", TARGET_SA, payload='{"exp": 1000000000}'),
        400, ERROR_INVALID, SIGN_JWT_EXP, words=UNVERIFIED),
    iam("sign-jwt-exp-not-an-integer",
        iam_call("alice", "sign_jwt", TARGET_SA, payload='{"exp": "1000000000"}'),
        400, ERROR_INVALID, SIGN_JWT_EXP, words=UNVERIFIED),
    iam("access-token-lifetime-zero",
        iam_post(FEDERATED_SA, "generateAccessToken", {"scope": CLOUD_PLATFORM_SCOPES,
                                                       "lifetime": "0s"}),
        400, ERROR_INVALID, LIFETIME_NOT_POSITIVE),
    iam("access-token-unknown-scope",
        iam_call("alice", "generate_access_token", FEDERATED_SA,
                 scope=["https://www.googleapis.com/auth/cloud-platfrom"]),
        400, ERROR_INVALID, INVALID_ARGUMENT, words=UNVERIFIED),
    iam("sign-jwt-payload-not-json", iam_call("alice", "sign_jwt", TARGET_SA, payload="{x"),
        400, ERROR_INVALID, INVALID_ARGUMENT, words=UNVERIFIED),
    iam("unknown-field", iam_post(FEDERATED_SA, "generateIdToken", {"audiance": "https://a"}),
        400, ERROR_INVALID,
        'Invalid JSON payload received. Unknown name "audiance": Cannot find field.',
        words=UNVERIFIED),
    iam("unknown-method", iam_post(FEDERATED_SA, "generateFoo", {}), 404, "NOT_FOUND",
        "Method not found: generateFoo.", words=UNVERIFIED),
    # IAM Credentials: the caller's credential
    iam("no-credentials", iam_post(FEDERATED_SA, "generateIdToken", ID_TOKEN_BODY, no_token),
        401, ERROR_UNAUTHENTICATED,
        f"Request is missing required authentication credential. {CREDENTIALS_HELP}"),
    iam("idp-token-as-credential",
        iam_post(FEDERATED_SA, "generateIdToken", ID_TOKEN_BODY, bearer(idp_token)),
        401, ERROR_UNAUTHENTICATED,
        f"Request had invalid authentication credentials. {CREDENTIALS_HELP}"),
    iam("insufficient-scopes",
        iam_call("alice", "generate_id_token", FEDERATED_SA, audience="https://a",
                 scopes=("https://www.googleapis.com/auth/userinfo.email",)),
        403, ERROR_DENIED, "Request had insufficient authentication scopes."),
    # Cloud Run's front end
    run("no-token", no_token, 403),
    run("basic-credentials", lambda chain: {"Authorization": "Basic YTpi"}, 403,
        words=UNVERIFIED),
    run("wrong-audience", bearer(google_id_token(FEDERATED_SA, WRONG)), 401),
    run("no-invoker-binding", bearer(google_id_token(TARGET_SA)), 403),
    run("federated-access-token", bearer(federated_access_token), 401),
    run("idp-token-not-google-signed", bearer(idp_token_for_service), 401),
    run("tampered-id-token", bearer(tampered_id_token), 401),
    run("serverless-header-wins", both_headers, 401),
    # The metadata server
    metadata("no-flavor", TOKEN_PATH, {}, 403, NO_FLAVOR_TOKEN),
    metadata("wrong-flavor", TOKEN_PATH, {"Metadata-Flavor": "Googl"}, 403, NO_FLAVOR_TOKEN),
    metadata("forwarded-request", TOKEN_PATH,
             {"Metadata-Flavor": "Google", "X-Forwarded-For": "10.0.0.1"}, 403, NO_FLAVOR_TOKEN,
             words=UNVERIFIED),
    metadata("identity-without-audience", IDENTITY_PATH, {"Metadata-Flavor": "Google"}, 400,
             "non-empty audience parameter required"),
    # The lab IdP
    idp("foreign-issuer", idp_mint(lambda chain: chain.claims(iss=EVIL)), 400, INVALID,
        f"iss: '{EVIL}' is not this IdP's issuer '{{issuer}}'; leave iss out, or start the IdP "
        "with IDP_ALLOW_FOREIGN_ISSUER=1 for negative tests"),
    idp("lifetime-over-max", idp_mint(lambda chain: chain.claims(iat=10**9, exp=10**9 + 90000)),
        400, INVALID,
        "exp: the lifetime exp - iat = 90000 s exceeds the maximum 86400 s (IDP_MAX_LIFETIME)"),
    idp("claims-not-an-object", idp_mint(lambda chain: ["sub"]), 400, INVALID,
        "body: expected a JSON object of claims, got an array"),
    idp("unknown-profile", idp_request("GET", "/token/nobody"), 404, "not_found",
        "profile: 'nobody' is not configured ({profiles})"),
    idp("admin-without-secret", idp_request("GET", "/admin/keys"), 401, "unauthorized",
        "Authorization: send 'Bearer <IDP_ADMIN_SECRET>' to use the admin routes"),
    idp("admin-wrong-secret",
        idp_request("GET", "/admin/keys", headers={"Authorization": "Bearer guessed"}),
        401, "unauthorized", "Authorization: the bearer secret does not match IDP_ADMIN_SECRET"),
]
# fmt: on
