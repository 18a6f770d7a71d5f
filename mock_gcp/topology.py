"""The topology: one project's federation setup, loaded from YAML and validated once.

The same document drives the local stand-in and ``deploy/`` for real Google Cloud, so resource
bodies keep the IAM REST API's field names and anything that exists only locally lives under
``local:``. Every validation error names its path in the document, e.g.
``pools[0].providers[1].attributeMapping: google.subject is required``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import yaml

from mock_gcp.cel import AttributeMapping, CelCompileError, Condition
from mock_gcp.iam import EMAIL, PERMISSIONS_BY_ROLE, validate_member
from wiflab_core.keys import KeyLoadError, VerificationKeys

ROOT = "topology"
MAX_ALLOWED_AUDIENCES = 10
MAX_AUDIENCE_CHARS = 256
MAX_JWKS_KEYS = 8
JWK_NOT_VALID = "Input JWK is not in a valid json format"

_PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_POOL_OR_PROVIDER_ID = re.compile(r"[a-z0-9-]{4,32}")
_SA_EMAIL = re.compile(r"(?P<name>[^@]+)@(?P<project>[^@.]+)\.iam\.gserviceaccount\.com")
_SA_NAME = re.compile(r"[a-z](?:[-a-z0-9]{4,28}[a-z0-9])")
_UNIQUE_ID = re.compile(r"\d{21}")
# Cloud Run service names: lowercase letters, digits and hyphens, a letter first, < 50 chars.
_SERVICE_NAME = re.compile(r"[a-z](?:[-a-z0-9]{0,47}[a-z0-9])?")
# The apps of this repository a service can run: the fake IdP, or the protected dump service.
IDP_APP = "idp_server"
PROTECTED_APP = "protected_app"
SERVICE_APPS = (PROTECTED_APP, IDP_APP)
_PROFILE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class TopologyError(ValueError):
    """A topology that cannot be used: where in the document, and why."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Binding:
    role: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    bindings: tuple[Binding, ...] = ()


@dataclass(frozen=True)
class OidcConfig:
    issuer_uri: str | None  # None: this lab's own fake IdP
    allowed_audiences: tuple[str, ...] = ()
    jwks_json: str | None = None


@dataclass(frozen=True)
class Provider:
    pool_id: str
    provider_id: str
    disabled: bool
    attribute_mapping: AttributeMapping
    attribute_condition: Condition | None
    oidc: OidcConfig


@dataclass(frozen=True)
class Pool:
    id: str
    disabled: bool
    providers: tuple[Provider, ...]


@dataclass(frozen=True)
class ServiceAccount:
    email: str
    unique_id: str
    policy: Policy
    disabled: bool = False


@dataclass(frozen=True)
class Service:
    name: str
    app: str
    allow_unauthenticated: bool
    custom_audiences: tuple[str, ...]
    policy: Policy


@dataclass(frozen=True)
class IdpSettings:
    """Claim profiles the fake IdP signs at ``/token/<profile>`` (read-only, nested too)."""

    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))

    def claims(self, profile: str) -> dict[str, Any] | None:
        """A fresh, plain (JSON-serializable) copy of one profile's claims."""
        frozen = self.profiles.get(profile)
        return None if frozen is None else _thaw(frozen)

    def plain(self) -> dict[str, dict[str, Any]]:
        """Every profile as plain data, e.g. for the IdP's settings."""
        return _thaw(self.profiles)


@dataclass(frozen=True)
class LocalSettings:
    """Settings that exist only in the local stand-in (the YAML's ``local:`` section)."""

    metadata_service_account: str | None = None  # the metadata server's "default" account


@dataclass(frozen=True)
class Topology:
    project_id: str
    project_number: str
    pools: tuple[Pool, ...]
    service_accounts: tuple[ServiceAccount, ...]
    services: tuple[Service, ...]
    policy: Policy = Policy()
    idp: IdpSettings = IdpSettings()
    # Service accounts whose access tokens may live > 1 h (Google's org policy constraint
    # constraints/iam.allowServiceAccountCredentialLifetimeExtension).
    lifetime_extension: frozenset[str] = frozenset()
    local: LocalSettings = LocalSettings()

    def pool(self, pool_id: str) -> Pool | None:
        return self._pools.get(pool_id)

    def provider(self, pool_id: str, provider_id: str) -> Provider | None:
        pool = self.pool(pool_id)
        return (
            next((p for p in pool.providers if p.provider_id == provider_id), None)
            if pool
            else None
        )

    def service_account(self, email_or_unique_id: str) -> ServiceAccount | None:
        key = email_or_unique_id.lower() if "@" in email_or_unique_id else email_or_unique_id
        return self._service_accounts.get(key)

    def service(self, name: str) -> Service | None:
        return self._services.get(name)

    def pool_name(self, pool_id: str) -> str:
        return f"projects/{self.project_number}/locations/global/workloadIdentityPools/{pool_id}"

    def provider_name(self, pool_id: str, provider_id: str) -> str:
        return f"{self.pool_name(pool_id)}/providers/{provider_id}"

    def provider_audience(self, pool_id: str, provider_id: str) -> str:
        return f"//iam.googleapis.com/{self.provider_name(pool_id, provider_id)}"

    @cached_property
    def _pools(self) -> Mapping[str, Pool]:
        return {p.id: p for p in self.pools}

    @cached_property
    def _service_accounts(self) -> Mapping[str, ServiceAccount]:
        index = {sa.email.lower(): sa for sa in self.service_accounts}
        index.update({sa.unique_id: sa for sa in self.service_accounts})
        return index

    @cached_property
    def _services(self) -> Mapping[str, Service]:
        return {s.name: s for s in self.services}


def derive_unique_id(email: str) -> str:
    """A stable 21-digit unique id for a service account that names none (Google's start with 1)."""
    digest = int.from_bytes(hashlib.sha256(email.lower().encode("utf-8")).digest(), "big")
    return "1" + str(digest % 10**20).zfill(20)


# --- reading -------------------------------------------------------------------------------

T = TypeVar("T")


def _join(path: str, key: str) -> str:
    return key if path == ROOT else f"{path}.{key}"


def _mapping(
    value: Any, path: str, required: Iterable[str] = (), optional: Iterable[str] = ()
) -> dict[str, Any]:
    """A mapping with exactly the keys the schema knows; a typo gets a suggestion."""
    if not isinstance(value, Mapping):
        raise TopologyError(path, f"must be a mapping, not {_type_name(value)}")
    known = [*required, *optional]
    for key in value:
        if key not in known:
            hint = difflib.get_close_matches(str(key), known, n=1)
            suggestion = f"did you mean '{hint[0]}'? " if hint else ""
            raise TopologyError(
                _join(path, str(key)),
                f"unknown key; {suggestion}expected one of: {', '.join(known)}",
            )
    for key in required:
        if key not in value:
            raise TopologyError(path, f"{key} is required")
    return dict(value)


def _type_name(value: Any) -> str:
    if value is None:
        return "empty"
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    names |= {int: "a number", float: "a number"}
    return names.get(type(value), f"a {type(value).__name__}")


def _string(value: Any, path: str, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
    if not isinstance(value, str) or not value:
        raise TopologyError(path, f"must be a non-empty string, not {_type_name(value)}")
    if pattern is not None and not pattern.fullmatch(value):
        raise TopologyError(path, f"{value!r} is not {what}")
    return value


def _digits(value: Any, path: str, what: str, length: int | None = None) -> str:
    # YAML reads an unquoted number as an int; accept it, the digits are what matter.
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not text.isascii() or not text.isdigit():
        raise TopologyError(path, f"{what} must be all digits, not {value!r}")
    if length is not None and len(text) != length:
        raise TopologyError(path, f"{what} must be {length} digits, not {len(text)}")
    return text


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise TopologyError(path, f"must be true or false, not {value!r}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise TopologyError(path, f"must be a list, not {_type_name(value)}")
    return value


def _items(
    value: Any, path: str, parse: Callable[[Any, str], T], key: Callable[[T], str], what: str
) -> tuple[T, ...]:
    """A list of entries parsed in order, refusing a second entry with the same key."""
    seen: set[str] = set()
    parsed = []
    for i, item in enumerate(_list(value, path)):
        entry = parse(item, f"{path}[{i}]")
        if key(entry) in seen:
            raise TopologyError(f"{path}[{i}]", f"duplicate {what} {key(entry)!r}")
        seen.add(key(entry))
        parsed.append(entry)
    return tuple(parsed)


def _strings(value: Any, path: str) -> tuple[str, ...]:
    return tuple(_string(v, f"{path}[{i}]") for i, v in enumerate(_list(value, path)))


def _policy(value: Any, path: str) -> Policy:
    doc = _mapping(value, path, optional=("bindings",))
    bindings = _list(doc.get("bindings", []), _join(path, "bindings"))
    return Policy(
        tuple(_binding(b, f"{_join(path, 'bindings')}[{i}]") for i, b in enumerate(bindings))
    )


def _binding(value: Any, path: str) -> Binding:
    doc = _mapping(value, path, required=("role", "members"))
    role = _string(doc["role"], _join(path, "role"))
    if role not in PERMISSIONS_BY_ROLE:
        raise TopologyError(
            _join(path, "role"),
            f"unknown role {role!r}; this lab knows: {', '.join(sorted(PERMISSIONS_BY_ROLE))}",
        )
    members_path = _join(path, "members")
    members = _list(doc["members"], members_path)
    if not members:
        raise TopologyError(members_path, "a binding needs at least one member")
    for i, member in enumerate(members):
        problem = validate_member(member)
        if problem is not None:
            raise TopologyError(f"{members_path}[{i}]", problem)
    return Binding(role, tuple(members))


def _project(value: Any, path: str) -> tuple[str, str]:
    doc = _mapping(value, path, required=("id", "number"))
    project_id = _string(
        doc["id"],
        _join(path, "id"),
        _PROJECT_ID,
        "a project id (6-30 of [a-z0-9-], a letter first)",
    )
    return project_id, _digits(doc["number"], _join(path, "number"), "the project number")


def _resource_id(value: Any, path: str, what: str) -> str:
    text = _string(value, path, _POOL_OR_PROVIDER_ID, f"a valid {what} id (4-32 of [a-z0-9-])")
    if text.startswith("gcp-"):
        raise TopologyError(path, f"the prefix 'gcp-' is reserved by Google ({text!r})")
    return text


def _pool(value: Any, path: str) -> Pool:
    doc = _mapping(value, path, required=("id",), optional=("disabled", "providers"))
    pool_id = _resource_id(doc["id"], _join(path, "id"), "pool")
    providers = _items(
        doc.get("providers", []),
        _join(path, "providers"),
        lambda item, p: _provider(item, p, pool_id),
        lambda provider: provider.provider_id,
        "provider id",
    )
    return Pool(pool_id, _bool(doc.get("disabled", False), _join(path, "disabled")), providers)


def _provider(value: Any, path: str, pool_id: str) -> Provider:
    doc = _mapping(
        value,
        path,
        required=("id", "attributeMapping", "oidc"),
        optional=("disabled", "attributeCondition"),
    )
    provider_id = _resource_id(doc["id"], _join(path, "id"), "provider")
    mapping_path = _join(path, "attributeMapping")
    try:
        mapping = AttributeMapping.compile(doc["attributeMapping"])
    except CelCompileError as exc:
        where = f"{mapping_path}[{exc.key!r}]" if exc.key else mapping_path
        raise TopologyError(where, exc.message) from None
    condition = None
    if doc.get("attributeCondition") is not None:
        try:
            condition = Condition.compile(doc["attributeCondition"])
        except CelCompileError as exc:
            raise TopologyError(_join(path, "attributeCondition"), exc.message) from None
    return Provider(
        pool_id=pool_id,
        provider_id=provider_id,
        disabled=_bool(doc.get("disabled", False), _join(path, "disabled")),
        attribute_mapping=mapping,
        attribute_condition=condition,
        oidc=_oidc(doc["oidc"], _join(path, "oidc")),
    )


def _oidc(value: Any, path: str) -> OidcConfig:
    doc = _mapping(
        {} if value is None else value, path, optional=("issuerUri", "allowedAudiences", "jwksJson")
    )
    issuer = doc.get("issuerUri")
    if issuer is not None:
        issuer = _string(issuer, _join(path, "issuerUri"))
        if not re.fullmatch(r"https://[^/\s]+(/\S*)?", issuer):
            raise TopologyError(
                _join(path, "issuerUri"),
                "must be an https:// URL (leave it out to use this lab's own fake IdP)",
            )
    audiences_path = _join(path, "allowedAudiences")
    audiences = _strings(doc.get("allowedAudiences", []), audiences_path)
    if len(audiences) > MAX_ALLOWED_AUDIENCES:
        raise TopologyError(
            audiences_path, f"at most {MAX_ALLOWED_AUDIENCES} audiences, not {len(audiences)}"
        )
    for i, audience in enumerate(audiences):
        if len(audience) > MAX_AUDIENCE_CHARS:
            raise TopologyError(
                f"{audiences_path}[{i}]", f"longer than {MAX_AUDIENCE_CHARS} characters"
            )
    jwks = doc.get("jwksJson")
    if jwks is not None:
        _check_jwks(jwks, _join(path, "jwksJson"))
    return OidcConfig(issuer, audiences, jwks)


def _check_jwks(value: Any, path: str) -> None:
    """An uploaded JWK set, refused where Google refuses it."""
    if not isinstance(value, str):
        raise TopologyError(path, "must be the JWK set as a JSON string")
    try:
        doc = json.loads(value)
    except ValueError:
        raise TopologyError(path, JWK_NOT_VALID) from None
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, list) or not keys:
        raise TopologyError(path, JWK_NOT_VALID)
    if any(isinstance(k, dict) and ("x5c" in k or "x5t" in k) for k in keys):
        raise TopologyError(path, JWK_NOT_VALID)
    if len(keys) > MAX_JWKS_KEYS:
        raise TopologyError(path, f"at most {MAX_JWKS_KEYS} keys are allowed, not {len(keys)}")
    try:
        VerificationKeys(doc)
    except KeyLoadError as exc:
        raise TopologyError(path, f"{JWK_NOT_VALID} ({exc})") from None


def _service_account(value: Any, path: str) -> ServiceAccount:
    doc = _mapping(value, path, required=("email",), optional=("uniqueId", "disabled", "policy"))
    email = _sa_email(doc["email"], _join(path, "email"))
    unique_id = derive_unique_id(email)
    if doc.get("uniqueId") is not None:
        unique_id = _digits(doc["uniqueId"], _join(path, "uniqueId"), "a unique id", 21)
    return ServiceAccount(
        email=email,
        unique_id=unique_id,
        policy=_policy(doc.get("policy", {}), _join(path, "policy")),
        disabled=_bool(doc.get("disabled", False), _join(path, "disabled")),
    )


def _sa_email(value: Any, path: str) -> str:
    email = _string(value, path, EMAIL, "an email address")
    match = _SA_EMAIL.fullmatch(email)
    if match and not _SA_NAME.fullmatch(match["name"]):
        raise TopologyError(
            path,
            f"service account name {match['name']!r} must be 6-30 of [a-z0-9-], a letter first",
        )
    return email


def _service(value: Any, path: str) -> Service:
    doc = _mapping(
        value,
        path,
        required=("name", "app"),
        optional=("allowUnauthenticated", "customAudiences", "policy"),
    )
    return Service(
        name=_string(doc["name"], _join(path, "name"), _SERVICE_NAME, "a Cloud Run service name"),
        app=_app(doc["app"], _join(path, "app")),
        allow_unauthenticated=_bool(
            doc.get("allowUnauthenticated", False), _join(path, "allowUnauthenticated")
        ),
        custom_audiences=_strings(doc.get("customAudiences", []), _join(path, "customAudiences")),
        policy=_policy(doc.get("policy", {}), _join(path, "policy")),
    )


def _app(value: Any, path: str) -> str:
    """Which of this repository's apps runs behind the service (and goes into its image)."""
    if value not in SERVICE_APPS:
        raise TopologyError(path, f"must be one of {', '.join(SERVICE_APPS)}, not {value!r}")
    return value


def _idp(value: Any, path: str) -> IdpSettings:
    doc = _mapping(value, path, optional=("profiles",))
    profiles_path = _join(path, "profiles")
    profiles = doc.get("profiles", {})
    if not isinstance(profiles, Mapping):
        raise TopologyError(profiles_path, f"must be a mapping, not {_type_name(profiles)}")
    for name, claims in profiles.items():
        claims_path = _join(profiles_path, str(name))
        if not isinstance(name, str) or not _PROFILE.fullmatch(name):
            raise TopologyError(claims_path, "profile names are 1-64 of [A-Za-z0-9_-]")
        if not isinstance(claims, Mapping):
            raise TopologyError(
                claims_path, f"must be a mapping of claims, not {_type_name(claims)}"
            )
        _check_json(claims, claims_path)
    return IdpSettings(_freeze(profiles))


def _check_json(value: Any, path: str) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TopologyError(path, f"claim names are strings, not {_type_name(key)}")
            _check_json(item, _join(path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{path}[{i}]")
    elif value is not None and not isinstance(value, str | int | float | bool):
        raise TopologyError(path, f"claims are JSON values, not {_type_name(value)} (quote it)")


def _declared_account(value: Any, path: str, accounts: tuple[ServiceAccount, ...]) -> str:
    email = _string(value, path, EMAIL, "an email address")
    match = next((sa for sa in accounts if sa.email.lower() == email.lower()), None)
    if match is None:
        raise TopologyError(path, f"{email!r} is not one of serviceAccounts")
    return match.email


def parse_topology(doc: Any) -> Topology:
    """A validated, immutable Topology from the YAML-loaded document."""
    try:
        return _parse(doc)
    except RecursionError:
        raise TopologyError(ROOT, "nested too deeply (or refers to itself)") from None


def _parse(doc: Any) -> Topology:
    root = _mapping(
        doc,
        ROOT,
        required=("project",),
        optional=("pools", "serviceAccounts", "services", "policy", "idp", "orgPolicy", "local"),
    )
    project_id, project_number = _project(root["project"], "project")
    pools = _items(root.get("pools", []), "pools", _pool, lambda p: p.id, "pool id")
    accounts = _items(
        root.get("serviceAccounts", []),
        "serviceAccounts",
        _service_account,
        lambda sa: sa.email.lower(),
        "service account",
    )
    unique_ids: set[str] = set()
    for i, account in enumerate(accounts):
        if account.unique_id in unique_ids:
            raise TopologyError(f"serviceAccounts[{i}].uniqueId", f"duplicate {account.unique_id}")
        unique_ids.add(account.unique_id)
    services = _items(root.get("services", []), "services", _service, lambda s: s.name, "service")
    org = _mapping(
        root.get("orgPolicy", {}),
        "orgPolicy",
        optional=("allowServiceAccountCredentialLifetimeExtension",),
    )
    extension_path = "orgPolicy.allowServiceAccountCredentialLifetimeExtension"
    extended = _list(org.get("allowServiceAccountCredentialLifetimeExtension", []), extension_path)
    local = _mapping(root.get("local", {}), "local", optional=("metadataServiceAccount",))
    metadata_account = local.get("metadataServiceAccount")
    return Topology(
        project_id=project_id,
        project_number=project_number,
        pools=pools,
        service_accounts=accounts,
        services=services,
        policy=_policy(root.get("policy", {}), "policy"),
        idp=_idp(root.get("idp", {}), "idp"),
        lifetime_extension=frozenset(
            _declared_account(email, f"{extension_path}[{i}]", accounts)
            for i, email in enumerate(extended)
        ),
        local=LocalSettings(
            metadata_service_account=None
            if metadata_account is None
            else _declared_account(metadata_account, "local.metadataServiceAccount", accounts)
        ),
    )


class _StrictLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice (PyYAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key if isinstance(key, str) else id(key_node))
        return super().construct_mapping(node, deep=deep)


def load_topology(path: str | Path) -> Topology:
    """Read, parse and validate a topology file; errors name the file or the path inside it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TopologyError(str(path), f"cannot read: {exc}") from None
    try:
        doc = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: builds plain data only
    except yaml.YAMLError as exc:
        raise TopologyError(str(path), f"not valid YAML: {exc}") from None
    return parse_topology(doc)


# --- writing -------------------------------------------------------------------------------


def topology_to_dict(t: Topology) -> dict[str, Any]:
    """The YAML / REST shape again: ``parse_topology(topology_to_dict(t)) == t``."""
    doc: dict[str, Any] = {
        "project": {"id": t.project_id, "number": t.project_number},
        "pools": [_pool_to_dict(p) for p in t.pools],
        "serviceAccounts": [
            {
                "email": sa.email,
                "uniqueId": sa.unique_id,
                "disabled": sa.disabled,
                "policy": _policy_to_dict(sa.policy),
            }
            for sa in t.service_accounts
        ],
        "services": [
            {
                "name": s.name,
                "app": s.app,
                "allowUnauthenticated": s.allow_unauthenticated,
                "customAudiences": list(s.custom_audiences),
                "policy": _policy_to_dict(s.policy),
            }
            for s in t.services
        ],
        "policy": _policy_to_dict(t.policy),
        "idp": {"profiles": t.idp.plain()},
    }
    if t.lifetime_extension:
        doc["orgPolicy"] = {
            "allowServiceAccountCredentialLifetimeExtension": sorted(t.lifetime_extension)
        }
    if t.local.metadata_service_account is not None:
        doc["local"] = {"metadataServiceAccount": t.local.metadata_service_account}
    return doc


def _pool_to_dict(pool: Pool) -> dict[str, Any]:
    return {
        "id": pool.id,
        "disabled": pool.disabled,
        "providers": [_provider_to_dict(p) for p in pool.providers],
    }


def _provider_to_dict(provider: Provider) -> dict[str, Any]:
    oidc: dict[str, Any] = {"allowedAudiences": list(provider.oidc.allowed_audiences)}
    if provider.oidc.issuer_uri is not None:
        oidc["issuerUri"] = provider.oidc.issuer_uri
    if provider.oidc.jwks_json is not None:
        oidc["jwksJson"] = provider.oidc.jwks_json
    doc: dict[str, Any] = {
        "id": provider.provider_id,
        "disabled": provider.disabled,
        "attributeMapping": dict(provider.attribute_mapping.source),
        "oidc": oidc,
    }
    if provider.attribute_condition is not None:
        doc["attributeCondition"] = provider.attribute_condition.source
    return doc


def _policy_to_dict(policy: Policy) -> dict[str, Any]:
    return {"bindings": [{"role": b.role, "members": list(b.members)} for b in policy.bindings]}


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value
