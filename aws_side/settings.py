"""The AWS side's settings: built in Python or from ``WIFLAB_AWS_*`` (processes mode).

| variable | field | meaning |
|---|---|---|
| WIFLAB_AWS_CREDENTIALS | credentials | the identities and keys (``state/aws/credentials.json``) |
| WIFLAB_AWS_IMDS_V1 | imds_v1 | ``allowed``: IMDS answers without a session token (IMDSv1) |
| WIFLAB_AWS_REGION | region | the instance's region, for IMDS (default ``us-east-1``) |
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")


class AwsSettingsError(ValueError):
    """The AWS side cannot start: the message names the setting."""


@dataclass(frozen=True)
class AwsSettings:
    credentials: Path
    region: str = "us-east-1"
    imds_v1: bool = False

    def __post_init__(self) -> None:
        if _REGION.fullmatch(self.region) is None:
            raise AwsSettingsError(
                f"WIFLAB_AWS_REGION: {self.region!r} is not an AWS region (e.g. us-east-1)"
            )

    @property
    def availability_zone(self) -> str:
        return f"{self.region}a"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AwsSettings:
        path = environ.get("WIFLAB_AWS_CREDENTIALS", "").strip()
        if not path:
            raise AwsSettingsError("WIFLAB_AWS_CREDENTIALS is required")
        v1 = environ.get("WIFLAB_AWS_IMDS_V1", "").strip()
        if v1 not in ("", "allowed"):
            raise AwsSettingsError(f"WIFLAB_AWS_IMDS_V1: 'allowed' or unset, not {v1!r}")
        return cls(
            Path(path),
            region=environ.get("WIFLAB_AWS_REGION", "").strip() or "us-east-1",
            imds_v1=v1 == "allowed",
        )

    def to_env(self) -> dict[str, str]:
        env = {"WIFLAB_AWS_CREDENTIALS": str(self.credentials), "WIFLAB_AWS_REGION": self.region}
        if self.imds_v1:
            env["WIFLAB_AWS_IMDS_V1"] = "allowed"
        return env
