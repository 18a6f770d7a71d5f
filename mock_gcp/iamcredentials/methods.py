"""IAM Service Account Credentials: short-lived credentials for a service account.

``POST /v1/projects/-/serviceAccounts/{EMAIL_OR_UNIQUE_ID}:{METHOD}`` for generateAccessToken,
generateIdToken, signBlob and signJwt. The caller is the bearer of a federated token from
STS (direct federation) or of a service account's access token. Order of checks, as Google
answers: authentication (401), the request body (400), the service account and the caller's
permission on it, through any ``delegates`` chain (403/404), then method rules (400). Each
call ends in a ``Decision``: the caller's principals, every binding considered on the account
and the project, the one that matched or why none did. ``decide`` is the permission check
alone, for anyone who must know what IAM would say (the demo).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from mock_gcp.backend import GoogleBackend
from mock_gcp.errors import ApiError, invalid_argument
from mock_gcp.iam import Caller, Grant, decide_grant, find_grant
from mock_gcp.projects import Projects
from mock_gcp.tokens import IssuedToken
from mock_gcp.topology import Policy, ServiceAccount, Topology
from wiflab_core import json_limits
from wiflab_core.bearer import bearer_token
from wiflab_core.decisions import Decision, Trace

SERVICE = "iamcredentials.googleapis.com"
DECIDING = "iamcredentials"
DEFAULT_LIFETIME = 3600
MAX_LIFETIME = 3600
MAX_EXTENDED_LIFETIME = 12 * 3600
MAX_SIGNED_JWT_EXP = 12 * 3600
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
# The OpenID Connect short names Google's OAuth accepts beside the discovery documents' scopes.
SCOPE_ALIASES = frozenset({"openid", "email", "profile"})
MAX_SCOPES = 64  # unverified: Google's limit on scopes per request is unpublished
LIFETIME_NOT_POSITIVE = "Lifetime of access token must be larger then zero."  # Google's spelling
# iamcredentials.v1.json, SignJwtRequest.payload (unverified: Google's exact error text).
SIGN_JWT_EXP = (
    "If the JWT Claims Set contains an expiration time (`exp`) claim, it must be an integer "
    "timestamp that is not in the past and no more than 12 hours in the future."
)
# unverified: Google's answer for a disabled service account was not captured.
ACCOUNT_DISABLED = "Precondition check failed."
# An access token used to call this API must carry one of these scopes.
API_SCOPES = (
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/iam",
)

PERMISSION = {
    "generateAccessToken": "iam.serviceAccounts.getAccessToken",
    "generateIdToken": "iam.serviceAccounts.getOpenIdToken",
    "signBlob": "iam.serviceAccounts.signBlob",
    "signJwt": "iam.serviceAccounts.signJwt",
}
IMPLICIT_DELEGATION = "iam.serviceAccounts.implicitDelegation"

_CREDENTIALS_TEXT = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_DURATION = re.compile(r"^(?P<seconds>-?\d+)(\.(?P<fraction>\d{1,9}))?s$")


class IamCredentialsError(ApiError):
    """A refused call, in Google's API error shape."""


def _error_info(reason: str, method: str, **metadata: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {
            "service": SERVICE,
            "method": f"google.iam.credentials.v1.IAMCredentials.{method[0].upper()}{method[1:]}",
            **metadata,
        },
    }


def permission_denied(permission: str) -> IamCredentialsError:
    return IamCredentialsError(
        403,
        "PERMISSION_DENIED",
        f"Permission '{permission}' denied on resource (or it may not exist).",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "IAM_PERMISSION_DENIED",
                "domain": "iam.googleapis.com",
                "metadata": {"permission": permission},
            }
        ],
    )


# The request bodies, as proto3 JSON: field -> (proto field name, kind). Proto JSON parsers
# accept both the camelCase JSON name and the proto name.
_SCHEMAS: dict[str, dict[str, tuple[str, str]]] = {
    "generateAccessToken": {
        "delegates": ("delegates", "strings"),
        "scope": ("scope", "strings"),
        "lifetime": ("lifetime", "duration"),
    },
    "generateIdToken": {
        "delegates": ("delegates", "strings"),
        "audience": ("audience", "string"),
        "includeEmail": ("include_email", "bool"),
        "organizationNumberIncluded": ("organization_number_included", "bool"),
        "useEmailAzp": ("use_email_azp", "bool"),
    },
    "signBlob": {"delegates": ("delegates", "strings"), "payload": ("payload", "bytes")},
    "signJwt": {"delegates": ("delegates", "strings"), "payload": ("payload", "string")},
}
# unverified: no published bound on delegates[] or scope[]; real calls carry a handful.
MAX_LIST_ITEMS = 100
_KIND_LABEL = {
    "strings": "TYPE_STRING",
    "string": "TYPE_STRING",
    "bool": "TYPE_BOOL",
    "bytes": "TYPE_BYTES",
    "duration": "type.googleapis.com/google.protobuf.Duration",
}


def parse_body(method: str, body: Any) -> dict[str, Any]:
    """Validate a proto3-JSON body the way Google's front end does; keys by JSON name."""
    if not isinstance(body, dict):
        raise invalid_argument("Invalid JSON payload received. Expected an object.")
    schema = _SCHEMAS[method]
    by_any_name = {json_name: json_name for json_name in schema} | {
        proto: json_name for json_name, (proto, _) in schema.items()
    }
    parsed: dict[str, Any] = {}
    for key, value in body.items():
        json_name = by_any_name.get(key)
        if json_name is None:
            raise invalid_argument(
                f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.',
                **{key: f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'},
            )
        if value is None:
            continue  # proto3 JSON: null means the default (google-auth sends delegates: null)
        proto, kind = schema[json_name]
        parsed[json_name] = _parse_value(proto, kind, value)
    return parsed


def _parse_value(proto: str, kind: str, value: Any) -> Any:
    def bad(detail: str = "") -> ApiError:
        text = f"Invalid value at '{proto}' ({_KIND_LABEL[kind]}), {detail or json.dumps(value)}"
        return invalid_argument(text, **{proto: text})

    if kind == "strings":
        items = value if isinstance(value, list) else None
        if items is None or not all(isinstance(v, str) for v in items):
            raise bad()
        if len(items) > MAX_LIST_ITEMS:
            # unverified: Google's bound and text; issued tokens keep their scopes.
            raise bad(f"at most {MAX_LIST_ITEMS} values, got {len(items)}")
        return items
    if kind == "string":
        if not isinstance(value, str):
            raise bad()
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad()
        return value
    if kind == "bytes":
        if not isinstance(value, str):
            raise bad()
        # proto3 JSON takes standard or URL-safe base64, padded or not.
        standard = value.replace("-", "+").replace("_", "/")
        try:
            return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise bad(f'Base64 decoding failed for "{value}"') from None
    # duration: "3600s", "3600.5s"
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise bad(f"Field '{proto}', Illegal duration format; duration must end with 's'")
    return int(match["seconds"]) + (float(f"0.{match['fraction']}") if match["fraction"] else 0)


@cache
def known_scopes() -> frozenset[str]:
    """Every OAuth scope of Google's discovery documents (``scopes.txt``, see scopes_build)."""
    text = resources.files(__package__).joinpath("scopes.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line) | SCOPE_ALIASES


def account_disabled() -> IamCredentialsError:
    return IamCredentialsError(400, "FAILED_PRECONDITION", ACCOUNT_DISABLED)


@dataclass(frozen=True)
class Outcome:
    """A call's decision; the response body when granted, Google's error when refused."""

    decision: Decision
    body: dict[str, Any] | None = None
    error: ApiError | None = None


@dataclass(frozen=True)
class Authorization:
    """Whether ``caller`` holds a permission on a service account, and the binding if so."""

    decision: Decision
    grant: Grant | None


def decide(
    topology: Topology, caller: Caller, account: ServiceAccount, permission: str
) -> Authorization:
    """IAM's check of ``permission`` on ``account`` for ``caller`` (no HTTP, no delegates)."""
    method = next((m for m, p in PERMISSION.items() if p == permission), permission)
    found = decide_grant(caller, permission, account_policies(topology, account))
    trace = Trace()
    trace.extend(found.checks)
    refusal = None if found.grant else permission_denied(permission).refusal()
    # As a call answers: the permission first, then whether the account can be used at all.
    if found.grant and not trace.check(
        "account.disabled", not account.disabled, False, account.email
    ):
        refusal = account_disabled().refusal()
    return Authorization(trace.decision(DECIDING, method, refusal), found.grant)


def rfc3339(epoch: float) -> str:
    # No fractional seconds: google-auth parses expireTime with "%Y-%m-%dT%H:%M:%SZ".
    return datetime.datetime.fromtimestamp(int(epoch), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class IamCredentials:
    def __init__(self, backend: GoogleBackend):
        self._backend = backend
        self._methods: dict[str, Callable[[ServiceAccount, Caller, dict[str, Any]], dict]] = {
            "generateAccessToken": self._generate_access_token,
            "generateIdToken": self._generate_id_token,
            "signBlob": self._sign_blob,
            "signJwt": self._sign_jwt,
        }

    def _authenticate(self, trace: Trace, authorization: str | None, method: str) -> IssuedToken:
        token = bearer_token(authorization)
        if not trace.check("credential", token is not None, "Bearer TOKEN", None):
            raise IamCredentialsError(
                401,
                "UNAUTHENTICATED",
                f"Request is missing required authentication credential. {_CREDENTIALS_TEXT}",
                [_error_info("CREDENTIALS_MISSING", method)],
            )
        assert token is not None
        tokens = self._backend.tokens
        issued = tokens.find(token)
        revoked = tokens.revoked(issued) if issued is not None else None
        # A federated token of a pool disabled since the exchange, or a disabled account's
        # token, is no credential any more (unverified: the same 401 as an unknown token).
        if not trace.check(
            "credential.token", issued is not None, "a live token", None
        ) or not trace.check("credential.revoked", revoked is None, None, revoked):
            raise IamCredentialsError(
                401,
                "UNAUTHENTICATED",
                f"Request had invalid authentication credentials. {_CREDENTIALS_TEXT}",
                [_error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED", method)],
            )
        assert issued is not None
        if not trace.check(
            "credential.scopes",
            any(scope in issued.scopes for scope in API_SCOPES),
            list(API_SCOPES),
            list(issued.scopes),
        ):
            raise IamCredentialsError(
                403,
                "PERMISSION_DENIED",
                "Request had insufficient authentication scopes.",
                [_error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", method)],
            )
        return issued

    def call(self, method: str, name: str, authorization: str | None, body: Any) -> Outcome:
        """Run METHOD on the service account NAME (``projects/-/serviceAccounts/ID``)."""
        trace = Trace()
        try:
            result = self._call(trace, method, name, authorization, body)
        except ApiError as error:
            if all(check.passed for check in trace.checks):
                trace.check("request", False, None, None, error.message)
            return Outcome(trace.decision(DECIDING, method, error.refusal()), None, error)
        return Outcome(trace.decision(DECIDING, method), result)

    def _call(
        self, trace: Trace, method: str, name: str, authorization: str | None, body: Any
    ) -> dict[str, Any]:
        if not trace.check("method", method in self._methods, list(self._methods), method):
            raise IamCredentialsError(404, "NOT_FOUND", f"Method not found: {method}.")
        caller = self._authenticate(trace, authorization, method).caller
        fields = parse_body(method, body)
        account = self._account(trace, name, caller, PERMISSION[method])
        chain = self._authorize(
            trace, caller, account, fields.get("delegates", []), PERMISSION[method]
        )
        # A disabled account can't be used: neither as the target nor as a hop of the chain.
        for hop in (*chain, account):
            if not trace.check("account.disabled", not hop.disabled, False, hop.email):
                raise account_disabled()
        return self._methods[method](account, caller, fields)

    def allowed_locations(self, name: str, authorization: str | None) -> Outcome:
        """``GET .../serviceAccounts/ID/allowedLocations``: the account's Regional Access
        Boundary, which google-auth looks up in the background (it needs ``encodedLocations``).
        unverified: an account without a boundary answers no locations and the empty bitmap."""
        trace = Trace()
        method = "allowedLocations"
        try:
            self._authenticate(trace, authorization, method)
            project, _, account_id = _split_name(name)
            account = self._backend.projects.service_account(account_id)
            if not trace.check(
                "account", project == "-" and account is not None, "projects/-/...", account_id
            ):
                raise IamCredentialsError(
                    404, "NOT_FOUND", f"Not found; Gaia id not found for email {account_id}"
                )
        except ApiError as error:
            return Outcome(trace.decision(DECIDING, method, error.refusal()), None, error)
        return Outcome(
            trace.decision(DECIDING, method), {"locations": [], "encodedLocations": "0x0"}
        )

    def _account(self, trace: Trace, name: str, caller: Caller, permission: str) -> ServiceAccount:
        project, _, account_id = _split_name(name)
        if project != "-":
            # Google's docs: "The - wildcard character is required; replacing it with a
            # project ID is invalid."
            raise invalid_argument()
        projects = self._backend.projects
        found = projects.account_and_project(account_id)
        if found is not None:
            # The account's own project (mock_gcp.projects), for the journal's ?project=.
            trace.check("project", True, None, found[0].project_number)
        if trace.check(
            "account", found is not None, "a service account of the project", account_id
        ):
            assert found is not None
            return found[1]
        # unverified: a caller allowed project-wide learns the account does not exist;
        # anyone else gets the same 403 as a denied permission ("or it may not exist").
        # The project the email names; one not served here grants nothing (a 403).
        named = _email_project(account_id)
        topology = projects.default if named is None else projects.by_id(named)
        project_policy = (
            [(f"project {topology.project_id}", topology.policy)] if topology is not None else []
        )
        if find_grant(caller, permission, project_policy) is not None:
            raise IamCredentialsError(
                404, "NOT_FOUND", f"Not found; Gaia id not found for email {account_id}"
            )
        raise permission_denied(permission)

    def _authorize(
        self,
        trace: Trace,
        caller: Caller,
        target: ServiceAccount,
        delegates: list[str],
        permission: str,
    ) -> list[ServiceAccount]:
        """Walk caller -> delegates... -> target; each hop needs its permission. The chain."""
        projects = self._backend.projects  # one snapshot for the whole walk
        chain: list[ServiceAccount] = []
        for delegate in delegates:
            project, _, account_id = _split_name(delegate)
            account = projects.service_account(account_id)
            if not trace.check(
                "delegate",
                project == "-" and account is not None,
                "projects/-/serviceAccounts/ID",
                delegate,
            ):
                raise invalid_argument()  # unverified: Google's text for a bad delegate
            assert account is not None
            chain.append(account)
        current = caller
        for account in chain:
            hop = decide_grant(
                current, IMPLICIT_DELEGATION, account_policies(_owner(projects, account), account)
            )
            trace.extend(hop.checks)
            if hop.grant is None:
                raise permission_denied(IMPLICIT_DELEGATION)
            current = Caller(kind="serviceAccount", name=account.email)
        found = decide_grant(
            current, permission, account_policies(_owner(projects, target), target)
        )
        trace.extend(found.checks)
        if found.grant is None:
            raise permission_denied(permission)
        return chain

    def _generate_access_token(
        self, account: ServiceAccount, caller: Caller, fields: dict[str, Any]
    ) -> dict[str, Any]:
        requested = fields.get("scope") or []
        if not requested:
            raise invalid_argument()
        # Google reads [""] as cloud-platform (R-GCP); empty entries beside others are dropped.
        scopes = [s for s in requested if s] or [CLOUD_PLATFORM]
        known = known_scopes()
        if len(scopes) > MAX_SCOPES or any(scope not in known for scope in scopes):
            raise invalid_argument()  # unverified text; 400 INVALID_ARGUMENT as R-GCP records
        lifetime = fields.get("lifetime", DEFAULT_LIFETIME)
        extended = account.email in _owner(self._backend.projects, account).lifetime_extension
        if lifetime <= 0:
            raise invalid_argument(LIFETIME_NOT_POSITIVE)
        if lifetime > MAX_EXTENDED_LIFETIME:
            raise invalid_argument()  # unverified text for a lifetime over 12 h
        if lifetime > MAX_LIFETIME and not extended:
            raise invalid_argument(
                f"Access tokens for service account {account.email} can not have lifetimes of "
                "more than 1 hour. Use the Org Policy Constraint "
                "constraints/iam.allowServiceAccountCredentialLifetimeExtension to allow up to "
                "12 hours."
            )
        issued = self._backend.tokens.issue(
            "access",
            Caller(kind="serviceAccount", name=account.email),
            int(lifetime),
            scopes=tuple(scopes),
        )
        return {"accessToken": issued.token, "expireTime": rfc3339(issued.expires_at)}

    def _generate_id_token(
        self, account: ServiceAccount, caller: Caller, fields: dict[str, Any]
    ) -> dict[str, Any]:
        audience = fields.get("audience", "")
        if not audience:
            raise invalid_argument()  # unverified: the message for a missing audience
        extra: dict[str, Any] = {}
        if fields.get("organizationNumberIncluded"):
            # The topology has no organization: Google's documented value is then null.
            extra["google"] = {"organization_number": None}
        if fields.get("useEmailAzp"):
            extra["azp"] = account.email  # unverified: what useEmailAzp changes
        token = self._backend.issuer.id_token(
            account, audience, fields.get("includeEmail", False), extra
        )
        return {"token": token}

    def _sign_blob(
        self, account: ServiceAccount, caller: Caller, fields: dict[str, Any]
    ) -> dict[str, Any]:
        key = self._backend.service_account_keys.for_account(account.email)
        signature = key.sign_bytes(fields.get("payload", b""))
        return {"keyId": key.kid, "signedBlob": base64.b64encode(signature).decode("ascii")}

    def _sign_jwt(
        self, account: ServiceAccount, caller: Caller, fields: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            # NaN or Infinity would be signed as output that is not JSON; depth is bounded.
            claims = json_limits.loads(fields.get("payload", ""), "payload")
        except json_limits.JsonInputError as exc:
            raise invalid_argument(payload=str(exc)) from None  # unverified text
        if not isinstance(claims, dict):
            raise invalid_argument()  # unverified: Google's text for a payload not a JSON object
        if "exp" in claims:
            exp = claims["exp"]
            now = self._backend.now()
            if (
                not isinstance(exp, int)
                or isinstance(exp, bool)
                or exp < int(now)
                or exp > now + MAX_SIGNED_JWT_EXP
            ):
                raise invalid_argument(SIGN_JWT_EXP)
        key = self._backend.service_account_keys.for_account(account.email)
        return {"keyId": key.kid, "signedJwt": key.sign(claims)}


def account_policies(topology: Topology, account: ServiceAccount) -> list[tuple[str, Policy]]:
    """Where a permission on a service account can come from: its policy, then the project's."""
    return [
        (f"serviceAccount {account.email}", account.policy),
        (f"project {topology.project_id}", topology.policy),
    ]


def _owner(projects: Projects, account: ServiceAccount) -> Topology:
    """The project that holds ``account`` (its policy, its org policy); a cross-project
    binding lives there, on the account, as in Google."""
    found = projects.account_and_project(account.email)
    return found[0] if found is not None else projects.default


def _email_project(email: str) -> str | None:
    """The project id in ``NAME@PROJECT.iam.gserviceaccount.com``; None for another name (a
    unique id, another domain: the default project's, as with one project)."""
    domain = email.rpartition("@")[2].lower()
    project, _, rest = domain.partition(".")
    return project if "@" in email and rest == "iam.gserviceaccount.com" else None


def _split_name(name: str) -> tuple[str, str, str]:
    """``projects/P/serviceAccounts/ID`` -> (P, "serviceAccounts", ID); else a 400."""
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != "serviceAccounts" or not parts[3]:
        raise invalid_argument()
    return parts[1], parts[2], parts[3]
