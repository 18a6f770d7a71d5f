"""The IdP's settings: one frozen dataclass, built in Python or from ``IDP_*`` variables
(``IdpSettings.from_env``), and written back to them (``to_env``).

| variable | field | meaning |
|---|---|---|
| IDP_ISSUER | issuer | the canonical issuer: discovery, ``iss`` and ``jwks_uri`` all use it |
| IDP_ISSUER_FROM_HOST=1 | issuer_from_host | derive the issuer from each request's Host instead |
| IDP_TRUSTED_PROXIES | trusted_proxies | who may set ``X-Forwarded-Proto`` (``*`` on Cloud Run) |
| IDP_BIND_HOST | bind_host | where the server listens; beyond loopback /token needs a secret |
| IDP_TOKEN_SECRET | token_secret | ``Authorization: Bearer`` secret guarding /token |
| IDP_ALLOW_PUBLIC_MINTING=1 | allow_public_minting | no /token guard, even beyond loopback |
| IDP_ADMIN_SECRET | admin_secret | bearer secret for /admin (key rotation); unset = refused |
| IDP_ALLOW_FOREIGN_ISSUER=1 | allow_foreign_issuer | accept a posted ``iss`` that is not ours |
| IDP_TOKEN_TTL | token_ttl | default lifetime in seconds (3600) |
| IDP_MAX_LIFETIME | max_lifetime | largest ``exp - iat`` accepted (86400) |
| IDP_PROFILES | profiles | JSON ``{name: {claims}}``, or a path to a JSON/YAML file of it |
| IDP_PRESETS | presets | JSON ``{preset: {param: value}}``: the presets' default params |
| IDP_KEY_STATE | key_state | the key state file shared by every worker (``idp serve`` sets it) |
| IDP_KEY_FILE / IDP_SIGNING_KEYS | key_source | PEM or JWK-set private keys (file / text) |
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from idp_server.errors import ConfigError

LOOPBACK = "127.0.0.1"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class IdpSettings:
    issuer: str | None = None
    issuer_from_host: bool = False
    trusted_proxies: tuple[str, ...] = ()
    bind_host: str = LOOPBACK
    token_secret: str | None = field(default=None, repr=False)
    allow_public_minting: bool = False
    admin_secret: str | None = field(default=None, repr=False)
    allow_foreign_issuer: bool = False
    token_ttl: int = 3600
    max_lifetime: int = 24 * 3600
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    presets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    key_state: Path | None = None
    key_source: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.issuer is not None:
            object.__setattr__(self, "issuer", normalise_issuer(self.issuer))
        if self.issuer is not None and self.issuer_from_host:
            raise ConfigError("set either IDP_ISSUER or IDP_ISSUER_FROM_HOST=1, not both")
        for name in ("token_ttl", "max_lifetime"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be a positive number of seconds")
        if self.token_ttl > self.max_lifetime:
            raise ConfigError(
                f"IDP_TOKEN_TTL ({self.token_ttl}) exceeds IDP_MAX_LIFETIME ({self.max_lifetime})"
            )
        if self.listens_beyond_loopback and not (self.token_secret or self.allow_public_minting):
            raise ConfigError(
                f"the IdP would mint tokens for anyone who reaches {self.bind_host}: set "
                "IDP_TOKEN_SECRET (clients then send Authorization: Bearer <secret>), or "
                "IDP_ALLOW_PUBLIC_MINTING=1 if that is really wanted"
            )
        _check_profiles(self.profiles)
        _check_presets(self.presets)

    @property
    def listens_beyond_loopback(self) -> bool:
        return not is_loopback(self.bind_host)

    @property
    def minting_secret(self) -> str | None:
        """The secret /token requires, or None when minting is open."""
        return None if self.allow_public_minting else self.token_secret

    def require_issuer(self) -> None:
        """An app needs a settled issuer; None is allowed only until the server URL is known."""
        if self.issuer is None and not self.issuer_from_host:
            raise ConfigError(
                "no issuer: set IDP_ISSUER (--issuer) to the URL clients and STS reach the IdP "
                "at, or IDP_ISSUER_FROM_HOST=1 to derive it from each request's Host header"
            )

    def trusts_proxy(self, address: str | None) -> bool:
        """Whether a request from ``address`` may say its scheme in ``X-Forwarded-Proto``."""
        return "*" in self.trusted_proxies or (address or "") in self.trusted_proxies

    def replace(self, **changes: Any) -> IdpSettings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> IdpSettings:
        """Settings from ``IDP_*`` variables; keyword overrides (e.g. from CLI flags) win."""
        values: dict[str, Any] = {
            "issuer": env.get("IDP_ISSUER") or None,
            "issuer_from_host": _flag(env, "IDP_ISSUER_FROM_HOST"),
            # unverified: Cloud Run's front end sets X-Forwarded-Proto itself and is the only
            # way in, so there any address is its; elsewhere no proxy is trusted unless named.
            "trusted_proxies": _list(env.get("IDP_TRUSTED_PROXIES"))
            if env.get("IDP_TRUSTED_PROXIES")
            else (("*",) if env.get("K_SERVICE") else ()),
            "bind_host": env.get("IDP_BIND_HOST") or LOOPBACK,
            "token_secret": env.get("IDP_TOKEN_SECRET") or None,
            "allow_public_minting": _flag(env, "IDP_ALLOW_PUBLIC_MINTING"),
            "admin_secret": env.get("IDP_ADMIN_SECRET") or None,
            "allow_foreign_issuer": _flag(env, "IDP_ALLOW_FOREIGN_ISSUER"),
            "token_ttl": _seconds(env, "IDP_TOKEN_TTL", 3600),
            "max_lifetime": _seconds(env, "IDP_MAX_LIFETIME", 24 * 3600),
            "profiles": load_profiles(env["IDP_PROFILES"]) if env.get("IDP_PROFILES") else {},
            "presets": _json_object(env, "IDP_PRESETS"),
            "key_state": Path(env["IDP_KEY_STATE"]) if env.get("IDP_KEY_STATE") else None,
            "key_source": key_source_from_env(env),
        }
        values.update(overrides)
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """Every variable ``from_env`` reads, so that it reads back these settings; unset ones
        are empty, overriding any inherited from the parent's environment. Keys travel as
        IDP_SIGNING_KEYS (or in the key state file)."""

        def flag(on: bool) -> str:
            return "1" if on else ""

        return {
            "IDP_ISSUER": self.issuer or "",
            "IDP_ISSUER_FROM_HOST": flag(self.issuer_from_host),
            "IDP_TRUSTED_PROXIES": ",".join(self.trusted_proxies),
            "IDP_BIND_HOST": self.bind_host,
            "IDP_TOKEN_SECRET": self.token_secret or "",
            "IDP_ALLOW_PUBLIC_MINTING": flag(self.allow_public_minting),
            "IDP_ADMIN_SECRET": self.admin_secret or "",
            "IDP_ALLOW_FOREIGN_ISSUER": flag(self.allow_foreign_issuer),
            "IDP_TOKEN_TTL": str(self.token_ttl),
            "IDP_MAX_LIFETIME": str(self.max_lifetime),
            "IDP_PROFILES": json.dumps(self.profiles) if self.profiles else "",
            "IDP_PRESETS": json.dumps(self.presets) if self.presets else "",
            "IDP_KEY_STATE": str(self.key_state) if self.key_state is not None else "",
            "IDP_KEY_FILE": "",
            "IDP_SIGNING_KEYS": self.key_source or "",
        }


def normalise_issuer(issuer: str) -> str:
    """The one spelling of the issuer: no trailing slash, an http(s) URL with a host."""
    normalised = issuer.strip().rstrip("/")
    parts = urlsplit(normalised)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"issuer {issuer!r} must be an http(s) URL such as https://idp.example")
    if parts.query or parts.fragment:
        raise ConfigError(f"issuer {issuer!r} must not have a query or fragment")
    return normalised


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def key_source_from_env(env: Mapping[str, str]) -> str | None:
    """PEM or JWK-set text from IDP_KEY_FILE (a mounted secret is a file) or IDP_SIGNING_KEYS."""
    if env.get("IDP_KEY_FILE"):
        return read_key_file(env["IDP_KEY_FILE"], "IDP_KEY_FILE")
    return env.get("IDP_SIGNING_KEYS") or None


def read_key_file(path: str, setting: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc}") from None


def load_profiles(value: str) -> Any:
    """IDP_PROFILES: a JSON object, or a path to a JSON or YAML file holding one (checked by
    IdpSettings)."""
    if value.lstrip().startswith("{"):
        try:
            profiles = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"IDP_PROFILES is not valid JSON: {exc}") from None
    else:
        try:
            profiles = yaml.safe_load(Path(value).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"IDP_PROFILES: cannot load {value}: {exc}") from None
    return profiles


def _check_profiles(profiles: Any) -> None:
    if not isinstance(profiles, Mapping):
        raise ConfigError("IDP_PROFILES must be an object of {profile name: {claims}}")
    for name, claims in profiles.items():
        if not isinstance(name, str) or not isinstance(claims, Mapping):
            raise ConfigError(f"IDP_PROFILES: profile {name!r} must map a name to a claims object")


def _json_object(env: Mapping[str, str], name: str) -> Any:
    if not env.get(name):
        return {}
    try:
        return json.loads(env[name])
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name} is not valid JSON: {exc}") from None


def _check_presets(presets: Any) -> None:
    from idp_server.presets import PresetError
    from idp_server.presets.minting import check_defaults

    if not isinstance(presets, Mapping):
        raise ConfigError("IDP_PRESETS must be an object of {preset: {param: value}}")
    try:
        check_defaults(presets)
    except PresetError as exc:
        raise ConfigError(str(exc)) from None


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be 1 or 0 (got {env[name]!r})")


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    if not env.get(name):
        return default
    try:
        return int(env[name])
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of seconds (got {env[name]!r})") from None


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())
