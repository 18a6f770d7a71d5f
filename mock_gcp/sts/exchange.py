"""Security Token Service: RFC 8693 token exchange of an OIDC token for a federated token.

The rules of ``POST https://sts.googleapis.com/v1/token`` for OIDC providers, in the order
they are applied: the request's fields, the audience (the provider's full resource name),
the pool and provider, the subject token (structure, issuer, signature, times, audience),
then the provider's attribute mapping and condition. Each check is recorded; the outcome is a
``Decision`` and, on refusal, an StsError carrying Google's status, error code and text (see
the README's fidelity table; texts marked "unverified" below are our most plausible choice
where no primary source was found). ``map_and_check`` is the mapping and condition alone,
for anyone who must know what STS makes of some claims (the demo, credential sets).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import jwt

from mock_gcp.backend import GoogleBackend
from mock_gcp.cel import (
    MAX_MAPPED_BYTES,
    MAX_SUBJECT_BYTES,
    Condition,
    ConditionError,
    MappedAttributes,
    MappingError,
    MappingFailure,
    mapped_value,
)
from mock_gcp.errors import OAuthError
from mock_gcp.iam import Caller
from mock_gcp.sts import aws
from mock_gcp.tokens import IssuedToken
from mock_gcp.topology import Provider, Topology
from wiflab_core import jose, json_limits
from wiflab_core.decisions import Decision, Trace
from wiflab_core.jose import KeysUnavailable, Reason
from wiflab_core.keys import KeyLoadError, VerificationKeys
from wiflab_core.wire import (
    ACCESS_TOKEN_TYPE,
    AWS4_REQUEST_TOKEN_TYPE,
    OIDC_SUBJECT_TOKEN_TYPES,
    TOKEN_EXCHANGE,
)

SERVICE = "sts"
SUBJECT_TOKEN_ALGS = ("RS256", "ES256")
FEDERATED_TOKEN_LIFETIME = 3600
# No cap on exp - iat (R-GCP: 25 h, 1 y and 11 y tokens accepted); iat may be at most 24 h
# old (sts.v1.json subjectToken: "no more than 24 hours in the past").
MAX_SUBJECT_TOKEN_AGE = 24 * 3600
# R-GCP: an iat 60 s ahead is accepted, 119 s ahead refused.
CLOCK_SKEW = 60
# sts.v1.json: "must not exceed 4 * 1024 * 1024 characters" (v1beta: 4096).
MAX_OPTIONS_LENGTH = 4 * 1024 * 1024
# sts.v1.json requestedTokenType: the two documented values.
ACCESS_BOUNDARY_INTERMEDIARY_TOKEN_TYPE = (
    "urn:ietf:params:oauth:token-type:access_boundary_intermediary_token"
)
REQUESTED_TOKEN_TYPES = (ACCESS_TOKEN_TYPE, ACCESS_BOUNDARY_INTERMEDIARY_TOKEN_TYPE)
# The subject tokens STS exchanges here: OIDC providers' JWTs, AWS providers' signed requests.
SUBJECT_TOKEN_TYPES = (*OIDC_SUBJECT_TOKEN_TYPES, AWS4_REQUEST_TOKEN_TYPE)
MAX_USER_PROJECT_LENGTH = 32
# unverified: Google publishes no bound on scope; every issued token keeps its scopes, so
# one is needed (a 63 KB scope kept per token grew memory 624 MB in 1,000 exchanges). Real
# requests carry one or two ~50-character scopes: 4,096 characters (the bound Google
# documents for options) and 100 scopes leave every real one far inside.
MAX_SCOPE_LENGTH = 4096
MAX_SCOPES = 100

_AUDIENCE = re.compile(
    r"^//iam\.googleapis\.com/projects/(?P<number>\d+)/locations/global/"
    r"workloadIdentityPools/(?P<pool>[^/]+)/providers/(?P<provider>[^/]+)$"
)

# Google's words, from the reference (gcp-wif-behaviour.md).
BAD_AUDIENCE = (
    'Invalid value for "audience". This value should be the full resource name of the '
    "Identity Provider. See https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/"
    "token for the list of possible formats."
)
BAD_TARGET = (
    'The target service indicated by the "audience" parameters is invalid. This might either '
    "be because the pool or provider is disabled or deleted or because it doesn't exist."
)
CONDITION_REJECTED = "The given credential is rejected by the attribute condition."
ISSUER_UNREACHABLE = "Error connecting to the given credential's issuer."
SUBJECT_TOO_LONG = (
    f"The size of mapped attribute google.subject exceeds the {MAX_SUBJECT_BYTES} bytes limit. "
    "Either modify your attribute mapping or the incoming assertion to produce a mapped "
    f"attribute that is less than {MAX_SUBJECT_BYTES} bytes."
)
# unverified: no Google text found for the 8 KB total; worded like the subject-size error.
MAPPED_TOO_LARGE = (
    f"The size of mapped attributes exceeds the {MAX_MAPPED_BYTES} bytes limit. Either modify "
    "your attribute mapping or the incoming assertion to produce mapped attributes that are "
    f"less than {MAX_MAPPED_BYTES} bytes."
)


def mapping_refusal(error: MappingError) -> StsError:
    """STS's answer when the attribute mapping fails."""
    failure = error.failure
    if failure is MappingFailure.SUBJECT_TOO_LONG:
        return StsError(400, "invalid_request", SUBJECT_TOO_LONG)
    if failure is MappingFailure.TOO_LARGE:
        return StsError(400, "invalid_request", MAPPED_TOO_LARGE)
    if failure is MappingFailure.CLAIMS_NOT_JSON:
        return StsError(400, "invalid_grant", "The credential's claims are not valid JSON.")
    if failure is MappingFailure.SUBJECT_NOT_STRING:
        # Google's text for a subject that is not a string.
        return StsError(
            400,
            "unauthorized_client",
            "The mapped attribute 'google.subject' must be of type STRING.",
        )
    if failure is MappingFailure.GROUPS_NOT_LIST:
        # unverified: worded like Google's google.subject type error.
        return StsError(
            400, "unauthorized_client", "The mapped attribute 'google.groups' must be of type LIST."
        )
    # unverified: worded like Google's google.subject type error.
    return StsError(
        400,
        "unauthorized_client",
        f"The mapped attribute '{error.key}' must be of type STRING or LIST.",
    )


def condition_refusal() -> StsError:
    """STS's answer when the attribute condition is false or gives no bool (unverified)."""
    return StsError(400, "unauthorized_client", CONDITION_REJECTED)


class StsError(OAuthError):
    """A refused exchange: HTTP status, OAuth error code and Google's description."""


def _invalid_request(description: str) -> StsError:
    return StsError(400, "invalid_request", description)


def _invalid_grant(description: str) -> StsError:
    return StsError(400, "invalid_grant", description)


# Field names as the three client encodings send them: form snake_case (google-auth,
# Node), JSON camelCase (google-github-actions/auth), JSON snake_case.
_FIELDS = {
    "grant_type": "grantType",
    "audience": "audience",
    "scope": "scope",
    "requested_token_type": "requestedTokenType",
    "subject_token": "subjectToken",
    "subject_token_type": "subjectTokenType",
    "options": "options",
}


@dataclass(frozen=True)
class ExchangeRequest:
    grant_type: str
    audience: str
    scope: str
    requested_token_type: str
    subject_token: str
    subject_token_type: str
    options: str | None = None

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> ExchangeRequest:
        """Read either spelling of each field; a non-string value is refused by name."""
        values: dict[str, str | None] = {}
        for snake, camel in _FIELDS.items():
            value = fields.get(snake, fields.get(camel))
            if value is not None and not isinstance(value, str):
                if snake == "options" and isinstance(value, dict):
                    value = json.dumps(value)
                else:
                    raise _invalid_request(f'Invalid value for "{snake}".')  # unverified
            values[snake] = value
        # Whitespace around the token is not part of it: a file written with
        # `echo $TOKEN > f` (Google's pipeline guide) ends in a newline, and google-auth
        # Python and Node send the file as read.
        subject_token = (values["subject_token"] or "").strip()
        return cls(
            grant_type=values["grant_type"] or "",
            audience=values["audience"] or "",
            scope=values["scope"] or "",
            requested_token_type=values["requested_token_type"] or "",
            subject_token=subject_token,
            subject_token_type=values["subject_token_type"] or "",
            options=values["options"],
        )


@dataclass(frozen=True)
class Mapped:
    """What STS makes of some claims: the decision, and the caller when it accepts them."""

    decision: Decision
    caller: Caller | None
    error: StsError | None = None


def map_and_check(
    topology: Topology, provider: Provider, claims: Mapping[str, Any], explain: bool = True
) -> Mapped:
    """The provider's attribute mapping, then its condition, over ``claims`` (no HTTP, no
    token checks): each mapped attribute with its value, the condition (and, ``explain``ed,
    each top-level clause), and the caller Google then knows."""
    trace = Trace()
    try:
        caller = _map_and_check(trace, topology, provider, claims, explain)
    except StsError as error:
        return Mapped(trace.decision(SERVICE, "exchange", error.refusal()), None, error)
    return Mapped(trace.decision(SERVICE, "exchange"), caller)


def _map_and_check(
    trace: Trace, topology: Topology, provider: Provider, claims: Mapping[str, Any], explain: bool
) -> Caller:
    mapping = provider.attribute_mapping
    condition = provider.attribute_condition
    try:
        mapped = mapping.apply(claims)
    except MappingError as error:
        key = error.key or "attributeMapping"
        if condition is not None and _condition_fails_on_claims(condition, claims):
            # R-GCP (low-medium): a condition that cannot be evaluated over the assertion
            # (a missing claim) refuses before the mapping's type errors.
            actual = {"result": None, "read": dict(condition.inputs(claims, _NOTHING_MAPPED))}
            trace.check("condition", False, condition.source, actual, "did not evaluate")
            raise condition_refusal() from None
        trace.check(f"mapping {key}", False, mapping.source.get(key), None, error.failure.value)
        raise mapping_refusal(error) from None
    for key, expression in mapping.source.items():
        trace.check(f"mapping {key}", True, expression, mapped_value(mapped, key))
    if condition is None:
        trace.check("condition", True, None, None, "none set: every valid token passes")
    else:
        try:
            result = condition.evaluate(claims, mapped, clauses=explain)
        except ConditionError as error:
            actual = {"result": None, "read": dict(condition.inputs(claims, mapped))}
            trace.check("condition", False, condition.source, actual, error.failure.value)
            raise condition_refusal() from None
        for clause, value in result.clauses:
            trace.check(f"condition clause ({result.operator})", value is True, clause, value)
        # actual: the value, and every assertion/attribute/google value the condition read.
        read = {"result": result.allowed, "read": dict(result.inputs)}
        if not trace.check("condition", result.allowed, condition.source, read):
            raise condition_refusal()
    caller = Caller.federated(topology.pool_name(provider.pool_id), mapped)
    trace.check(
        "caller",
        True,
        None,
        {"principal": caller.principal(), "members": sorted(caller.members())},
    )
    return caller


_NOTHING_MAPPED = MappedAttributes(subject="")


def _condition_fails_on_claims(condition: Condition, claims: Mapping[str, Any]) -> bool:
    """Whether a condition over the assertion alone cannot be evaluated (or is not a bool)."""
    names = [name for name, _ in condition.inputs(claims, _NOTHING_MAPPED)]
    if not names or not all(name.startswith("assertion.") for name in names):
        return False
    try:
        condition.evaluate(claims, _NOTHING_MAPPED)
    except ConditionError:
        return True
    return False


@dataclass(frozen=True)
class Exchange:
    """An accepted exchange: the federated token and the caller it stands for."""

    token: IssuedToken
    provider: Provider
    provider_name: str
    claims: Mapping[str, Any]
    # R-GCP: min(exp - now, 3600), fixed when the token is issued.
    expires_in: int = FEDERATED_TOKEN_LIFETIME
    issued_token_type: str = ACCESS_TOKEN_TYPE
    # sts.v1.json: present only for the access-boundary intermediary token type.
    access_boundary_session_key: str | None = None

    def response(self, now: float) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.token.token,
            "issued_token_type": self.issued_token_type,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }
        if self.access_boundary_session_key is not None:
            body["access_boundary_session_key"] = self.access_boundary_session_key
        return body


_AES_GCM_KEY_TYPE = "type.googleapis.com/google.crypto.tink.AesGcmKey"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def session_key() -> str:
    """A fresh access-boundary session key: base64 (sts.v1.json ``format: byte``) of a
    binary Tink keyset holding one AES256-GCM key, as client-side Credential Access Boundary
    libraries read it (unverified: the keyset's exact shape is not documented)."""
    key_id = secrets.randbits(31) or 1
    aes_gcm_key = _field(3, secrets.token_bytes(32))
    key_data = _field(1, _AES_GCM_KEY_TYPE.encode()) + _field(2, aes_gcm_key) + b"\x18\x02"
    key = _field(1, key_data) + b"\x10\x01" + b"\x18" + _varint(key_id) + b"\x20\x01"
    keyset = b"\x08" + _varint(key_id) + _field(2, key)
    return base64.b64encode(keyset).decode("ascii")


@dataclass(frozen=True)
class ExchangeOutcome:
    """The decision; the exchange when allowed, Google's error when refused."""

    decision: Decision
    exchange: Exchange | None = None
    error: StsError | None = None


class SecurityTokenService:
    def __init__(self, backend: GoogleBackend, aws_caller: aws.AwsCaller | None = None):
        """``aws_caller``: how AWS is called for AWS providers (default: over HTTP, at the
        deviation ``aws_sts_url`` when set, else at the URL the client signed)."""
        self._backend = backend
        self._uploaded_jwks: dict[str, VerificationKeys] = {}
        self._aws = aws_caller or aws.http_caller(backend.deviations.aws_sts_url)

    def decide(self, fields: Mapping[str, Any]) -> ExchangeOutcome:
        """``POST /v1/token`` with these request fields, every check recorded."""
        trace = Trace()
        try:
            exchange = self._exchange(trace, fields)
        except StsError as error:
            return ExchangeOutcome(
                trace.decision(SERVICE, "exchange", error.refusal()), None, error
            )
        return ExchangeOutcome(trace.decision(SERVICE, "exchange"), exchange)

    def _exchange(self, trace: Trace, fields: Mapping[str, Any]) -> Exchange:
        try:
            request = ExchangeRequest.from_fields(fields)
        except StsError as error:
            trace.check("request.fields", False, "strings", None, error.description)
            raise
        _check_fields(trace, request)
        topology, provider = self._provider(trace, request.audience)
        provider_name = topology.provider_name(provider.pool_id, provider.provider_id)
        if provider.aws is not None:
            claims = self._aws_assertion(trace, request, provider)
        else:
            claims = self._verified_claims(trace, request, provider, provider_name)
        # Each clause's value is worth evaluating only when the journal records it.
        mapped = map_and_check(topology, provider, claims, self._backend.journal.enabled)
        trace.extend(mapped.decision.checks)
        if mapped.error is not None:
            raise mapped.error
        assert mapped.caller is not None
        now = self._backend.now()
        # The federated token lives an hour, but never beyond the subject token itself
        # (the seed write-up's "expires_in": 3092 for a token minted an hour earlier; R-GCP:
        # min(exp - now, 3600)). unverified: a token expired within the clock skew gets 1 s.
        # An AWS caller's assertion has no expiry of its own (unverified: a full hour).
        expiry = claims["exp"] if provider.aws is None else now + FEDERATED_TOKEN_LIFETIME
        lifetime = max(1, min(FEDERATED_TOKEN_LIFETIME, int(expiry - now)))
        token = self._backend.tokens.issue(
            "federated",
            mapped.caller,
            lifetime,
            scopes=tuple(request.scope.split()),
            provider=provider_name,
        )
        intermediary = request.requested_token_type == ACCESS_BOUNDARY_INTERMEDIARY_TOKEN_TYPE
        return Exchange(
            token,
            provider,
            provider_name,
            claims,
            expires_in=lifetime,
            issued_token_type=request.requested_token_type,
            access_boundary_session_key=session_key() if intermediary else None,
        )

    def _provider(self, trace: Trace, audience: str) -> tuple[Topology, Provider]:
        """The project the audience names (mock_gcp.projects), and its enabled provider."""
        match = _AUDIENCE.match(audience) if audience else None
        expected = (
            "//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/Q"
        )
        if not trace.check("request.audience", match is not None, expected, audience):
            raise _invalid_request(BAD_AUDIENCE)
        assert match is not None
        topology = self._backend.project(match["number"])
        # Which project answered, for the journal's ?project= filter (a project not loaded
        # is a provider that does not exist: Google's text for it below).
        trace.check("project", topology is not None, "a project served here", match["number"])
        pool = topology.pool(match["pool"]) if topology is not None else None
        provider = topology.provider(match["pool"], match["provider"]) if topology else None
        found = not (
            topology is None
            or pool is None
            or provider is None
            or pool.disabled
            or provider.disabled
        )
        if not trace.check(
            "provider", found, "an enabled pool and provider of this project", audience
        ):
            raise StsError(400, "invalid_target", BAD_TARGET)
        assert provider is not None and topology is not None
        return topology, provider

    def _aws_assertion(
        self, trace: Trace, request: ExchangeRequest, provider: Provider
    ) -> dict[str, Any]:
        """What AWS says of the signed GetCallerIdentity (mock_gcp.sts.aws)."""
        _check_token_type(trace, request, (AWS4_REQUEST_TOKEN_TYPE,))
        try:
            return aws.verified_assertion(
                trace, request.subject_token, provider, request.audience, self._aws
            )
        except aws.AwsRefusal as refusal:
            raise StsError(refusal.status, refusal.error, refusal.description) from None

    def _verified_claims(
        self, trace: Trace, request: ExchangeRequest, provider: Provider, provider_name: str
    ) -> dict[str, Any]:
        _check_token_type(trace, request, OIDC_SUBJECT_TOKEN_TYPES)
        token = request.subject_token
        oidc = provider.oidc
        assert oidc is not None
        deviations = self._backend.deviations
        expected_issuer = oidc.issuer_uri or deviations.lab_idp_issuer
        if expected_issuer:
            expected_issuer = deviations.issuer_standing_in(expected_issuer)
        allowed = oidc.allowed_audiences or (
            f"//iam.googleapis.com/{provider_name}",
            f"https://iam.googleapis.com/{provider_name}",
        )

        def key(kid: str) -> jwt.PyJWK | None:
            if not expected_issuer:
                raise KeysUnavailable("the provider has no issuer")
            return self._key(provider, expected_issuer, kid)

        try:
            verified = jose.verify(
                token,
                key,
                algorithms=SUBJECT_TOKEN_ALGS,
                now=self._backend.now(),
                # Without an issuer there is nothing to compare: the key lookup says so.
                issuer=(expected_issuer,) if expected_issuer else None,
                audience=allowed,
                leeway=CLOCK_SKEW,
                require=("iat", "exp"),
                max_age=MAX_SUBJECT_TOKEN_AGE,
                check_nbf=False,
            )
        except jose.TokenRejected as rejected:
            trace.extend(rejected.checks)
            raise _token_refusal(rejected, expected_issuer) from None
        trace.extend(verified.checks)
        return verified.claims

    def _key(self, provider: Provider, issuer: str, kid: str) -> jwt.PyJWK | None:
        uploaded = provider.oidc.jwks_json if provider.oidc else None
        if uploaded:
            keys = self._uploaded_jwks.get(uploaded)
            if keys is None:
                try:
                    keys = VerificationKeys(json.loads(uploaded))
                except (KeyLoadError, ValueError) as exc:
                    raise KeysUnavailable(f"oidc.jwksJson: {exc}") from None
                self._uploaded_jwks[uploaded] = keys
            return keys.get(kid)
        return self._backend.issuer_keys.key(issuer, kid)


def shown(value: Any) -> str:
    """A claim's value as Google's texts show it: a string as is, anything else as JSON
    (``null``, ``true``, ``[]``), never as Python would print it."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        return json.dumps(str(value))


def _audiences_shown(aud: Any) -> str:
    """``[a,b]``: the token's audiences, ``[]`` when it has none."""
    if aud is None:
        return "[]"
    return "[" + ",".join(shown(a) for a in (aud if isinstance(aud, list) else [aud])) + "]"


def _stale(iat: Any) -> str:
    return f"ID Token issued at {shown(iat)} is stale to sign-in."


def _token_refusal(rejected: jose.TokenRejected, expected_issuer: str | None) -> StsError:
    """Google's words for each reason a subject token is refused (invalid_grant, 400)."""
    reason, header, claims = rejected.reason, rejected.header, rejected.claims
    iat = claims.get("iat")
    if reason is Reason.MALFORMED:
        text = "Unable to parse the ID Token."  # unverified
    elif reason is Reason.NO_KID:
        text = "The ID Token header has no kid."  # unverified
    elif reason is Reason.UNSUPPORTED_ALG:
        # unverified text; RS256 and ES256 are the documented algorithms.
        text = (
            f"The ID Token is signed with an unsupported algorithm {shown(header.get('alg'))}. "
            "Supported algorithms are RS256 and ES256."
        )
    elif reason is Reason.ISSUER_MISMATCH:
        # Two 2026 captures and R-GCP; older captures say "the expected ones: ISSUER".
        text = (
            f"The issuer in ID Token {shown(claims.get('iss'))} does not match the expected "
            f"one in config: {expected_issuer}"
        )
    elif reason in (Reason.KEYS_UNAVAILABLE, Reason.UNKNOWN_KID, Reason.ALG_KEY_MISMATCH):
        # R-GCP; troubleshooting: an unknown kid, and an alg its key does not fit, too.
        text = ISSUER_UNREACHABLE
    elif reason is Reason.BAD_SIGNATURE:
        text = "Unable to verify the ID Token signature."  # R-GCP
    elif reason in (Reason.MISSING_CLAIM, Reason.INVALID_CLAIM):
        # R-GCP: iat missing -> "issued at null"; exp missing -> the stale text with the iat.
        # unverified: a time claim that is not a number, likewise.
        text = _stale(iat)
    elif reason in (Reason.ISSUED_IN_FUTURE, Reason.EXPIRED, Reason.STALE):
        # ISSUED_IN_FUTURE: R-GCP measured the skew, not the text (unverified: the stale text).
        text = _stale(iat)
    else:  # BAD_AUDIENCE (NOT_YET_VALID is not checked: nbf is not read)
        text = (
            f"The audience in ID Token {_audiences_shown(claims.get('aud'))} does not match "
            "the expected audience."
        )
    return _invalid_grant(text)


def introspect(backend: GoogleBackend, token: str, client_id: str | None) -> dict[str, Any]:
    """RFC 7662 introspection (``POST /v1/introspect``), which gcloud asks for the account name
    of a federated credential (``gcloud auth login --cred-file``)."""
    if not client_id:
        # RFC 7662 section 2.1: the caller must authenticate; gcloud sends its own client id.
        # unverified text
        raise StsError(401, "invalid_client", "Client authentication is required.")
    issued = backend.tokens.lookup(token)
    if issued is None:
        return {"active": False}
    return {
        "active": True,
        "client_id": client_id,
        "iss": "https://sts.googleapis.com/",
        "iat": int(issued.issued_at),
        "exp": int(issued.expires_at),
        "scope": " ".join(issued.scopes),
        # Federated tokens name their principal; a service account's token, its email.
        "username": issued.caller.principal() if issued.kind == "federated" else issued.caller.name,
    }


def _check_fields(trace: Trace, request: ExchangeRequest) -> None:
    grant_type = request.grant_type
    if not trace.check(
        "request.grant_type", grant_type == TOKEN_EXCHANGE, TOKEN_EXCHANGE, grant_type
    ):
        # unverified text; RFC 6749 section 5.2 names the code.
        raise StsError(400, "unsupported_grant_type", 'Invalid value for "grant_type".')
    requested = request.requested_token_type
    if not trace.check(
        "request.requested_token_type",
        requested in REQUESTED_TOKEN_TYPES,
        list(REQUESTED_TOKEN_TYPES),
        requested,
    ):
        raise _invalid_request('Invalid value for "requested_token_type".')  # unverified
    subject_type = request.subject_token_type
    if not trace.check(
        "request.subject_token_type",
        subject_type in SUBJECT_TOKEN_TYPES,
        list(SUBJECT_TOKEN_TYPES),
        subject_type,
    ):
        raise _invalid_request('Invalid value for "subject_token_type".')  # unverified
    # The token itself is never recorded: only whether there is one.
    if not trace.check("request.subject_token", bool(request.subject_token), "present", None):
        raise _invalid_request('Invalid value for "subject_token".')  # unverified
    if not trace.check("request.scope", bool(request.scope.strip()), "present", request.scope):
        raise StsError(400, "invalid_scope", 'Invalid value for "scope".')  # unverified
    length, count = len(request.scope), len(request.scope.split())
    bounded = length <= MAX_SCOPE_LENGTH and count <= MAX_SCOPES
    expected = f"<= {MAX_SCOPE_LENGTH} characters, <= {MAX_SCOPES} scopes"
    if not trace.check("request.scope.size", bounded, expected, f"{length} characters, {count}"):
        raise StsError(400, "invalid_scope", 'Invalid value for "scope".')  # unverified
    if request.options is not None:
        try:
            _check_options(request.options)
        except StsError as error:
            trace.check("request.options", False, "a JSON object", None, error.description)
            raise
        trace.check("request.options", True, "a JSON object", None)


def _check_token_type(trace: Trace, request: ExchangeRequest, types: tuple[str, ...]) -> None:
    """The provider takes this kind of subject token (an AWS provider a signed request, an
    OIDC provider a JWT)."""
    kind = "aws" if types == (AWS4_REQUEST_TOKEN_TYPE,) else "oidc"
    if kind == "oidc" and request.subject_token_type in types:
        return  # OIDC decisions record the token's own checks
    if not trace.check(
        f"provider.{kind}.subject_token_type",
        request.subject_token_type in types,
        list(types),
        request.subject_token_type,
    ):
        raise _invalid_request(aws.WRONG_TOKEN_TYPE)  # unverified


def _check_options(raw: str) -> None:
    """options is serialized JSON; google-auth URL-encodes it once more before form-encoding."""
    # The limit is on the parameter's value as sent (sts.v1.json).
    if len(raw) > MAX_OPTIONS_LENGTH:
        raise _invalid_request('Invalid value for "options".')  # unverified
    text = unquote(raw) if raw.startswith("%") else raw
    try:
        options = json_limits.loads(text, "options")  # depth bounded, NaN refused
    except json_limits.JsonInputError:
        raise _invalid_request('Invalid value for "options".') from None  # unverified
    if not isinstance(options, dict):
        raise _invalid_request('Invalid value for "options".')
    user_project = options.get("userProject")
    if user_project is not None and (
        not isinstance(user_project, str) or len(user_project) > MAX_USER_PROJECT_LENGTH
    ):
        raise _invalid_request('Invalid value for "options.userProject".')  # unverified
