"""What exists only in this lab, kept apart from Google's resources: which of this repository's
apps runs behind a service (``services[].app``), the fake IdP's claim profiles (``idp``) and the
local stand-in's own settings (``local``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PlainValidator
from pydantic.dataclasses import dataclass as model

from mock_gcp.topology.errors import Problem, type_name
from mock_gcp.topology.fields import DOCUMENT, Email, Flag, Items, unique
from mock_gcp.topology.resources import CloudRunService
from wiflab_core.aws_arn import parse_arn

# The apps of this repository a service can run: the fake IdP, or the protected dump service.
IDP_APP = "idp_server"
PROTECTED_APP = "protected_app"
SERVICE_APPS = (PROTECTED_APP, IDP_APP)
_PROFILE = re.compile(r"[A-Za-z0-9_-]{1,64}")


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


@model(frozen=True, config=DOCUMENT)
class IdpSettings:
    """Claim profiles the fake IdP signs at ``/token/<profile>`` (read-only, nested too)."""

    profiles: Annotated[Mapping[str, Claims], PlainValidator(_profiles)] = Field(
        default_factory=lambda: MappingProxyType({})
    )

    def claims(self, profile: str) -> dict[str, Any] | None:
        """A fresh, plain (JSON-serializable) copy of one profile's claims."""
        frozen = self.profiles.get(profile)
        return None if frozen is None else _thaw(frozen)

    def plain(self) -> dict[str, dict[str, Any]]:
        """Every profile as plain data, e.g. for the IdP's settings."""
        plain: dict[str, dict[str, Any]] = _thaw(self.profiles)
        return plain


def _arn(value: Any) -> str:
    try:
        return parse_arn(value).text
    except ValueError as exc:
        raise Problem(str(exc)) from None


def _one_instance(identities: tuple[AwsIdentity, ...]) -> tuple[AwsIdentity, ...]:
    marked = [i for i, identity in enumerate(identities) if identity.imds]
    for i in marked:
        if not parse_arn(identities[i].arn).temporary:
            # An instance profile holds a role: IMDS serves an assumed role's keys only.
            raise Problem("imds: true needs an assumed-role ARN (the instance's role)", i, "imds")
    if len(marked) > 1:
        raise Problem("at most one identity is the EC2 instance's (imds: true)", marked[1], "imds")
    return identities


@model(frozen=True, config=DOCUMENT)
class AwsIdentity:
    """A local AWS principal (``aws_side``): its keys are made at start-up."""

    # arn:aws:iam::ACCOUNT:user/NAME or arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
    arn: Annotated[str, PlainValidator(_arn)]
    # The EC2 instance's role: the instance metadata service serves its credentials.
    imds: Flag = False


@model(frozen=True, config=DOCUMENT)
class AwsLocal:
    """The local AWS side (``local.aws``)."""

    identities: Annotated[
        Items[AwsIdentity],
        unique(lambda identity: identity.arn, "AWS identity"),
        AfterValidator(_one_instance),
    ] = ()


@model(frozen=True, config=DOCUMENT)
class LocalSettings:
    """Settings that exist only in the local stand-in (the YAML's ``local:`` section)."""

    # The metadata server's "default" account: one of serviceAccounts.
    metadata_service_account: Email | None = Field(default=None, alias="metadataServiceAccount")
    # The local AWS side's identities (issue 15); none: the stack runs no AWS side.
    aws: AwsLocal = Field(default_factory=AwsLocal)


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
