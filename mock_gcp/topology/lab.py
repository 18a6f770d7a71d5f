"""What exists only in this lab, kept apart from Google's resources: which of this repository's
apps runs behind a service (``services[].app``), the fake IdP's claim profiles (``idp``) and the
local stand-in's own settings (``local``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import Field, PlainValidator
from pydantic.dataclasses import dataclass as model

from mock_gcp.topology.errors import Problem, type_name
from mock_gcp.topology.fields import DOCUMENT, Email
from mock_gcp.topology.resources import CloudRunService

# The apps of this repository a service can run: the fake IdP, or the protected dump service.
IDP_APP = "idp_server"
PROTECTED_APP = "protected_app"
SERVICE_APPS = (PROTECTED_APP, IDP_APP)
_PROFILE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A preset's name (idp_server.presets names them; the IdP refuses one it does not know) and
# its params' names.
_PRESET = re.compile(r"[a-z][a-z0-9-]{0,31}")
_PARAM = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _app(value: Any) -> str:
    if value not in SERVICE_APPS:
        raise Problem(f"must be one of {', '.join(SERVICE_APPS)}, not {value!r}")
    return str(value)


@model(frozen=True, config=DOCUMENT, kw_only=True)
class Service(CloudRunService):
    """A Cloud Run service and the app of this repository behind it (which goes into its image)."""

    app: Annotated[str, PlainValidator(_app)]


Claims = Mapping[str, Any]


def _profiles(value: Any) -> Mapping[str, Claims]:
    if not isinstance(value, Mapping):
        raise Problem(f"must be a mapping, not {type_name(value)}")
    for name, claims in value.items():
        if not isinstance(name, str) or not _PROFILE.fullmatch(name):
            raise Problem("profile names are 1-64 of [A-Za-z0-9_-]", str(name))
        if not isinstance(claims, Mapping):
            raise Problem(f"must be a mapping of claims, not {type_name(claims)}", name)
        _check_json(claims, (name,))
    frozen: Mapping[str, Claims] = _freeze(value)
    return frozen


def _check_json(value: Any, at: tuple[str | int, ...]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise Problem(f"claim names are strings, not {type_name(key)}", *at)
            _check_json(item, (*at, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, (*at, i))
    elif value is not None and not isinstance(value, str | int | float | bool):
        raise Problem(f"claims are JSON values, not {type_name(value)} (quote it)", *at)


def _presets(value: Any) -> Mapping[str, Mapping[str, str]]:
    """``idp.presets``: preset -> {param: value}, every value a string (ids are strings)."""
    if not isinstance(value, Mapping):
        raise Problem(f"must be a mapping of presets, not {type_name(value)}")
    for name, params in value.items():
        if not isinstance(name, str) or not _PRESET.fullmatch(name):
            raise Problem("preset names are lowercase, e.g. github, azure-devops", str(name))
        if params is None:
            continue
        if not isinstance(params, Mapping):
            raise Problem(f"must be a mapping of params, not {type_name(params)}", name)
        for param, item in params.items():
            if not isinstance(param, str) or not _PARAM.fullmatch(param):
                raise Problem("param names are lowercase with underscores", name, str(param))
            if not isinstance(item, str):
                raise Problem(f"must be a string, not {type_name(item)} (quote it)", name, param)
    frozen: Mapping[str, Mapping[str, str]] = _freeze(
        {name: params or {} for name, params in value.items()}
    )
    return frozen


@model(frozen=True, config=DOCUMENT)
class IdpSettings:
    """Claim profiles the fake IdP signs at ``/token/<profile>`` (read-only, nested too), and
    the real-provider presets' default params (``/presets/NAME/token``)."""

    profiles: Annotated[Mapping[str, Claims], PlainValidator(_profiles)] = Field(
        default_factory=lambda: MappingProxyType({})
    )
    presets: Annotated[Mapping[str, Mapping[str, str]], PlainValidator(_presets)] = Field(
        default_factory=lambda: MappingProxyType({})
    )

    def preset_params(self) -> dict[str, dict[str, str]]:
        """Every preset's params as plain data, e.g. for the IdP's settings."""
        plain: dict[str, dict[str, str]] = _thaw(self.presets)
        return plain

    def claims(self, profile: str) -> dict[str, Any] | None:
        """A fresh, plain (JSON-serializable) copy of one profile's claims."""
        frozen = self.profiles.get(profile)
        return None if frozen is None else _thaw(frozen)

    def plain(self) -> dict[str, dict[str, Any]]:
        """Every profile as plain data, e.g. for the IdP's settings."""
        plain: dict[str, dict[str, Any]] = _thaw(self.profiles)
        return plain


@model(frozen=True, config=DOCUMENT)
class LocalSettings:
    """Settings that exist only in the local stand-in (the YAML's ``local:`` section)."""

    # The metadata server's "default" account: one of serviceAccounts.
    metadata_service_account: Email | None = Field(default=None, alias="metadataServiceAccount")


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
