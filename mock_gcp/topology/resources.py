"""Google's resources as the IAM and Cloud Run REST APIs name them, with Google's rules.

Pools, providers (``oidc``, ``attributeMapping``, ``attributeCondition``: CEL compiled here,
at load), service accounts, Cloud Run services and the organization policy. Every model is
frozen and refuses keys it does not know.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator
from pydantic.dataclasses import dataclass as model

from mock_gcp.cel import AttributeMapping, CelCompileError, Condition
from mock_gcp.iam import Policy
from mock_gcp.topology.errors import Problem
from mock_gcp.topology.fields import DOCUMENT, Email, Flag, Items, Text, digits, matching, unique
from wiflab_core.keys import KeyLoadError, VerificationKeys

MAX_ALLOWED_AUDIENCES = 10
MAX_AUDIENCE_CHARS = 256
MAX_JWKS_KEYS = 8
JWK_NOT_VALID = "Input JWK is not in a valid json format"
# unverified texts (R-GCP recorded both, not which key drew which): a key type other than
# RSA or EC, and an EC key on a curve other than P-256 (ES256 is the only EC algorithm).
JWK_TYPE_NOT_SUPPORTED = "Invalid JWKs: Only RSA, EC key types are supported."
JWK_CORRUPTED = "Input jwks contains corrupted key material."
MAX_DISPLAY_NAME_CHARS = 32
MAX_DESCRIPTION_CHARS = 256
MAX_DISCOVERY_URI_CHARS = 2000
# Issuers many tenants share: Google refuses a provider for them unless its condition
# reads a claim (iam.v1.json attributeCondition; the deployment-pipelines guide).
SHARED_ISSUERS = (
    "https://token.actions.githubusercontent.com",  # GitHub Actions
    "https://gitlab.com",  # GitLab SaaS
    "https://app.terraform.io",  # HCP Terraform
)
CONDITION_MUST_READ_A_CLAIM = (
    "The attribute condition must reference one of the provider's claims. For more "
    "information, see https://cloud.google.com/iam/docs/"
    "workload-identity-federation-with-deployment-pipelines#conditions"
)
_READS_A_CLAIM = re.compile(r"\b(assertion|attribute|google)\s*(\.|\[)")
LIFETIME_EXTENSION = "allowServiceAccountCredentialLifetimeExtension"

_PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_POOL_OR_PROVIDER_ID = re.compile(r"[a-z0-9-]{4,32}")
_HTTPS_URL = re.compile(r"https://[^/\s]+(/\S*)?")
_SA_EMAIL = re.compile(r"(?P<name>[^@]+)@(?P<project>[^@.]+)\.iam\.gserviceaccount\.com")
_SA_NAME = re.compile(r"[a-z](?:[-a-z0-9]{4,28}[a-z0-9])")
# Cloud Run service names: lowercase letters, digits and hyphens, a letter first, < 50 chars.
_SERVICE_NAME = re.compile(r"[a-z](?:[-a-z0-9]{0,47}[a-z0-9])?")


@model(frozen=True, config=DOCUMENT)
class Project:
    id: Annotated[Text, matching(_PROJECT_ID, "a project id (6-30 of [a-z0-9-], a letter first)")]
    number: Annotated[str, PlainValidator(digits("the project number"))]


def _resource_id(what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not _POOL_OR_PROVIDER_ID.fullmatch(value):
            raise Problem(f"{value!r} is not a valid {what} id (4-32 of [a-z0-9-])")
        if value.startswith("gcp-"):
            raise Problem(f"the prefix 'gcp-' is reserved by Google ({value!r})")
        return value

    return AfterValidator(check)


def _https(value: str) -> str:
    if not _HTTPS_URL.fullmatch(value):
        raise Problem("must be an https:// URL (leave it out to use this lab's own fake IdP)")
    return value


def _short_audience(value: str) -> str:
    if len(value) > MAX_AUDIENCE_CHARS:
        raise Problem(f"longer than {MAX_AUDIENCE_CHARS} characters")
    return value


def _few_audiences(audiences: tuple[str, ...]) -> tuple[str, ...]:
    if len(audiences) > MAX_ALLOWED_AUDIENCES:
        raise Problem(f"at most {MAX_ALLOWED_AUDIENCES} audiences, not {len(audiences)}")
    return audiences


def _jwks(value: Any) -> str:
    """An uploaded JWK set, refused where Google refuses it."""
    if not isinstance(value, str):
        raise Problem("must be the JWK set as a JSON string")
    try:
        doc = json.loads(value)
    except ValueError:
        raise Problem(JWK_NOT_VALID) from None
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, list) or not keys:
        raise Problem(JWK_NOT_VALID)
    if any(isinstance(k, dict) and ("x5c" in k or "x5t" in k) for k in keys):
        raise Problem(JWK_NOT_VALID)
    if len(keys) > MAX_JWKS_KEYS:
        raise Problem(f"at most {MAX_JWKS_KEYS} keys are allowed, not {len(keys)}")
    for i, key in enumerate(keys):
        if isinstance(key, dict) and key.get("kty") not in ("RSA", "EC"):
            raise Problem(JWK_TYPE_NOT_SUPPORTED, f"keys[{i}]")
        if isinstance(key, dict) and key.get("kty") == "EC" and key.get("crv") != "P-256":
            raise Problem(JWK_CORRUPTED, f"keys[{i}]")
    try:
        VerificationKeys(doc)
    except KeyLoadError as exc:
        raise Problem(f"{JWK_NOT_VALID} ({exc})") from None
    return value


Audience = Annotated[Text, AfterValidator(_short_audience)]


def _at_most(limit: int) -> AfterValidator:
    def check(value: str) -> str:
        if len(value) > limit:
            raise Problem(f"longer than {limit} characters")
        return value

    return AfterValidator(check)


def _discovery_uri(value: str) -> str:
    if not value.startswith("https://"):
        raise Problem("must start with https://")
    if len(value) > MAX_DISCOVERY_URI_CHARS:
        raise Problem(f"longer than {MAX_DISCOVERY_URI_CHARS} characters")
    if "/.well-known/" not in urlsplit(value).path:
        raise Problem(
            "the path must contain /.well-known/ (such as /.well-known/openid-configuration)"
        )
    return value


@model(frozen=True, config=DOCUMENT)
class OidcConfig:
    # None: this lab's own fake IdP.
    issuer_uri: Annotated[Text, AfterValidator(_https)] | None = Field(
        default=None, alias="issuerUri"
    )
    allowed_audiences: Annotated[Items[Audience], AfterValidator(_few_audiences)] = Field(
        default=(), alias="allowedAudiences"
    )
    jwks_json: Annotated[str, PlainValidator(_jwks)] | None = Field(default=None, alias="jwksJson")
    # iam.v1.json: where to fetch the discovery document instead of ISSUER/.well-known/...
    discovery_uri: Annotated[Text, AfterValidator(_discovery_uri)] | None = Field(
        default=None, alias="discoveryUri"
    )

    def __post_init__(self) -> None:
        if self.discovery_uri and self.issuer_uri:
            found, issuer = urlsplit(self.discovery_uri), urlsplit(self.issuer_uri)
            if (found.scheme, found.netloc) != (issuer.scheme, issuer.netloc):
                raise Problem("scheme, host and port must match issuerUri's", "discoveryUri")


# unverified: Google's text for an account id that is not 12 digits was not found (AWS
# account ids are 12 digits; gcloud's own create-aws example passes a 10-digit one).
AWS_ACCOUNT_ID_DIGITS = 12
_aws_account_id = digits("the AWS account id", AWS_ACCOUNT_ID_DIGITS)


@model(frozen=True, config=DOCUMENT)
class AwsConfig:
    """An AWS provider: callers present a signed GetCallerIdentity of this AWS account."""

    account_id: Annotated[str, PlainValidator(_aws_account_id)] = Field(alias="accountId")


# Google's default mapping for an AWS provider when attributeMapping is left out
# (workload-identity-federation-with-other-clouds): the ARN is the subject; aws_role is the
# role an assumed-role ARN was assumed from (the session name dropped), else the ARN.
DEFAULT_AWS_MAPPING = {
    "google.subject": "assertion.arn",
    "attribute.aws_role": (
        "assertion.arn.contains('assumed-role') ? "
        "assertion.arn.extract('{account_arn}assumed-role/') + 'assumed-role/' + "
        "assertion.arn.extract('assumed-role/{role_name}/') : assertion.arn"
    ),
}
# Neither block given: the provider trusts nothing (unverified: the lab's own words).
ONE_PROVIDER_TYPE = "exactly one of oidc or aws is required"
_NO_MAPPING = AttributeMapping({}, {})


def _attribute_mapping(value: Any) -> AttributeMapping:
    if isinstance(value, AttributeMapping):
        return value
    try:
        return AttributeMapping.compile(value)
    except CelCompileError as exc:
        raise Problem(exc.message, *([f"[{exc.key!r}]"] if exc.key else [])) from None


def _condition(value: Any) -> Condition | None:
    if value is None or isinstance(value, Condition):
        return value
    try:
        return Condition.compile(value)
    except CelCompileError as exc:
        raise Problem(exc.message) from None


def _empty_when_null(value: Any) -> Any:
    return {} if value is None else value


@model(frozen=True, config=DOCUMENT)
class Provider:
    provider_id: Annotated[Text, _resource_id("provider"), Field(alias="id")]
    # Left out: Google's default for an AWS provider; an OIDC provider must give one.
    attribute_mapping: Annotated[
        AttributeMapping,
        PlainValidator(_attribute_mapping),
        Field(default=_NO_MAPPING, alias="attributeMapping"),
    ]
    # Exactly one of oidc and aws (the REST API's providerConfig); ``oidc: {}`` or
    # ``oidc: null`` is an OIDC provider trusting this lab's own IdP.
    oidc: Annotated[OidcConfig | None, BeforeValidator(_empty_when_null)] = None
    aws: AwsConfig | None = None
    disabled: Flag = False
    attribute_condition: Annotated[Condition | None, PlainValidator(_condition)] = Field(
        default=None, alias="attributeCondition"
    )
    display_name: Annotated[Text, _at_most(MAX_DISPLAY_NAME_CHARS)] | None = Field(
        default=None, alias="displayName"
    )
    description: Annotated[Text, _at_most(MAX_DESCRIPTION_CHARS)] | None = Field(
        default=None, alias="description"
    )
    # Set by the pool that holds it; never written in the document.
    pool_id: str = Field(default="", init=False)

    def __post_init__(self) -> None:
        if (self.oidc is None) == (self.aws is None):
            raise Problem(ONE_PROVIDER_TYPE)
        if not self.attribute_mapping.source:
            if self.aws is None:
                raise Problem("attributeMapping is required")
            object.__setattr__(
                self, "attribute_mapping", AttributeMapping.compile(DEFAULT_AWS_MAPPING)
            )
        issuer = ((self.oidc.issuer_uri if self.oidc else None) or "").rstrip("/")
        if issuer in SHARED_ISSUERS:
            condition = self.attribute_condition
            if condition is None or not _READS_A_CLAIM.search(condition.source):
                raise Problem(CONDITION_MUST_READ_A_CLAIM, "attributeCondition")


@model(frozen=True, config=DOCUMENT)
class Pool:
    id: Annotated[Text, _resource_id("pool")]
    disabled: Flag = False
    providers: Annotated[Items[Provider], unique(lambda p: p.provider_id, "provider id")] = ()

    def __post_init__(self) -> None:
        for provider in self.providers:
            object.__setattr__(provider, "pool_id", self.id)


def derive_unique_id(email: str) -> str:
    """A stable 21-digit unique id for a service account that names none (Google's start with 1)."""
    digest = int.from_bytes(hashlib.sha256(email.lower().encode("utf-8")).digest(), "big")
    return "1" + str(digest % 10**20).zfill(20)


def _service_account_name(email: str) -> str:
    match = _SA_EMAIL.fullmatch(email)
    if match and not _SA_NAME.fullmatch(match["name"]):
        raise Problem(
            f"service account name {match['name']!r} must be 6-30 of [a-z0-9-], a letter first"
        )
    return email


_unique_id_digits = digits("a unique id", 21)


def _unique_id(value: Any) -> str:
    return "" if value is None else _unique_id_digits(value)


@model(frozen=True, config=DOCUMENT)
class ServiceAccount:
    email: Annotated[Email, AfterValidator(_service_account_name)]
    # Google assigns it; left out, a stable one is derived from the email.
    unique_id: Annotated[str, PlainValidator(_unique_id)] = Field(default="", alias="uniqueId")
    disabled: Flag = False
    policy: Policy = Field(default_factory=Policy)

    def __post_init__(self) -> None:
        if not self.unique_id:
            object.__setattr__(self, "unique_id", derive_unique_id(self.email))


@model(frozen=True, config=DOCUMENT)
class CloudRunService:
    """A Cloud Run service as Google knows it: who may invoke it, which audiences it accepts."""

    name: Annotated[Text, matching(_SERVICE_NAME, "a Cloud Run service name")]
    allow_unauthenticated: Flag = Field(default=False, alias="allowUnauthenticated")
    custom_audiences: Items[Text] = Field(default=(), alias="customAudiences")
    policy: Policy = Field(default_factory=Policy)


@model(frozen=True, config=DOCUMENT)
class OrgPolicy:
    # Service accounts whose access tokens may live > 1 h (Google's org policy constraint
    # constraints/iam.allowServiceAccountCredentialLifetimeExtension).
    lifetime_extension: Items[Email] = Field(
        default=(), alias="allowServiceAccountCredentialLifetimeExtension"
    )
