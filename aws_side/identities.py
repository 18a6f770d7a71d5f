"""The local AWS identities (topology ``local.aws.identities``) and the keys made for them.

Keys are made at start-up, as AWS shapes them: an IAM user gets a long-term key (``AKIA`` +
16 base-32 characters, a 40-character secret); an assumed role's session gets temporary
credentials (``ASIA...``, a secret and a session token, expiring). They are written to the
state dir (``state/aws/credentials.json``, mode 0600) and read back by every process that
serves the AWS side; they are never logged (``repr`` hides them).

``UserId`` is AWS's unique id: ``AIDA`` + 17 characters for a user, ``AROA`` + 17 characters
``:SESSION`` for an assumed role
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-prefixes);
it is derived from the ARN, so it is the same on every start, as a real user's is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from wiflab_core.aws_arn import Arn, parse_arn
from wiflab_core.private_file import write_private

FILE_NAME = "credentials.json"
# An assumed role's session lasts at most 12 hours (the role's MaxSessionDuration ceiling);
# the lab gives its sessions the longest, so a stack left up for a day's workshop keeps working.
SESSION_LIFETIME = timedelta(hours=12)
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class IdentitiesError(ValueError):
    """A credentials file or identity list that cannot be used: the message names the field."""


@dataclass(frozen=True)
class Identity:
    arn: Arn
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    # Temporary credentials only: when they stop working (ExpiredToken).
    expiration: datetime | None = None
    # Made at (IMDS's LastUpdated).
    issued: datetime | None = None
    # Served by the instance metadata service (the EC2 instance's role).
    imds: bool = False

    @property
    def account(self) -> str:
        return self.arn.account

    @property
    def user_id(self) -> str:
        """``AIDA...`` for a user, ``AROA...:SESSION`` for an assumed role."""
        if self.arn.kind == "user":
            return "AIDA" + _base32_id(self.arn.text)
        role = f"arn:aws:iam::{self.arn.account}:role/{self.arn.name}"
        return f"AROA{_base32_id(role)}:{self.arn.session}"

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "arn": self.arn.text,
            "accessKeyId": self.access_key_id,
            "secretAccessKey": self.secret_access_key,
        }
        if self.session_token is not None:
            doc["sessionToken"] = self.session_token
        if self.expiration is not None:
            doc["expiration"] = _rfc3339(self.expiration)
        if self.issued is not None:
            doc["issued"] = _rfc3339(self.issued)
        if self.imds:
            doc["imds"] = True
        return doc

    def keys(self) -> dict[str, str]:
        """What endpoints.json lists for it (the names AWS's own credential files use)."""
        doc = {"accessKeyId": self.access_key_id, "secretAccessKey": self.secret_access_key}
        if self.session_token is not None:
            doc["sessionToken"] = self.session_token
        return doc


@dataclass(frozen=True)
class IdentitySpec:
    """One entry of ``local.aws.identities``."""

    arn: str
    imds: bool = False


@dataclass(frozen=True)
class Identities:
    identities: tuple[Identity, ...] = ()

    def __post_init__(self) -> None:
        keys = [i.access_key_id for i in self.identities]
        if len(set(keys)) != len(keys):
            raise IdentitiesError("identities: two identities share an access key id")
        if sum(i.imds for i in self.identities) > 1:
            raise IdentitiesError("identities: at most one identity is the instance's (imds)")

    def by_access_key(self, access_key_id: str) -> Identity | None:
        return next((i for i in self.identities if i.access_key_id == access_key_id), None)

    def by_arn(self, arn: str) -> Identity | None:
        return next((i for i in self.identities if i.arn.text == arn), None)

    @property
    def instance(self) -> Identity | None:
        """The identity the instance metadata service serves (``imds: true``)."""
        return next((i for i in self.identities if i.imds), None)

    def to_json(self) -> dict[str, Any]:
        return {"identities": [i.to_json() for i in self.identities]}

    def write(self, path: Path) -> Path:
        write_private(path, json.dumps(self.to_json(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> Identities:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise IdentitiesError(f"{path}: cannot read the AWS credentials: {exc}") from None
        except ValueError as exc:
            raise IdentitiesError(f"{path}: not JSON: {exc}") from None
        return cls.from_json(doc, str(path))

    @classmethod
    def from_json(cls, doc: Any, where: str = "credentials") -> Identities:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("identities"), list):
            raise IdentitiesError(f"{where}: identities: must be a list")
        found = [
            _identity(item, f"{where}: identities[{i}]") for i, item in enumerate(doc["identities"])
        ]
        return cls(tuple(found))


def make_identities(specs: Iterable[IdentitySpec], now: datetime) -> Identities:
    """Fresh keys for each identity: long-term for users, temporary for assumed roles."""
    made: list[Identity] = []
    for i, spec in enumerate(specs):
        try:
            arn = parse_arn(spec.arn)
        except ValueError as exc:
            raise IdentitiesError(f"identities[{i}].arn: {exc}") from None
        if arn.temporary:
            made.append(
                Identity(
                    arn,
                    "ASIA" + _random(_BASE32, 16),
                    _random(_SECRET_ALPHABET, 40),
                    base64.b64encode(secrets.token_bytes(120)).decode(),
                    expiration=now + SESSION_LIFETIME,
                    issued=now,
                    imds=spec.imds,
                )
            )
        else:
            made.append(
                Identity(
                    arn,
                    "AKIA" + _random(_BASE32, 16),
                    _random(_SECRET_ALPHABET, 40),
                    issued=now,
                    imds=spec.imds,
                )
            )
    return Identities(tuple(made))


def _identity(item: Any, where: str) -> Identity:
    if not isinstance(item, Mapping):
        raise IdentitiesError(f"{where}: must be a mapping")

    def text(name: str, required: bool = True) -> str | None:
        value = item.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise IdentitiesError(f"{where}.{name}: must be a non-empty string")
        return value

    try:
        arn = parse_arn(item.get("arn"))
    except ValueError as exc:
        raise IdentitiesError(f"{where}.arn: {exc}") from None
    key, secret = text("accessKeyId"), text("secretAccessKey")
    assert key is not None and secret is not None
    return Identity(
        arn,
        key,
        secret,
        text("sessionToken", required=False),
        expiration=_time(text("expiration", required=False), f"{where}.expiration"),
        issued=_time(text("issued", required=False), f"{where}.issued"),
        imds=item.get("imds") is True,
    )


def _time(value: str | None, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise IdentitiesError(f"{where}: not an RFC 3339 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise IdentitiesError(f"{where}: needs a time zone: {value!r}")
    return parsed.astimezone(UTC)


def _rfc3339(moment: datetime) -> str:
    """AWS's spelling of a time: ``2026-12-01T20:55:00Z`` (UTC, whole seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _base32_id(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return base64.b32encode(digest).decode()[:17]


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))
