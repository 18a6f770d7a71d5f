"""The dump service's settings, read from ``PROTECTED_APP_*`` (and Cloud Run's ``K_*``) variables.

- ``PROTECTED_APP_VERIFY``: ``cloud-run`` (the default when ``K_SERVICE`` is set), ``google``,
  ``jwks`` or ``none`` (the default elsewhere).
- ``PROTECTED_APP_AUDIENCE``: the expected ``aud`` (comma-separated for several); required by
  ``google`` and ``jwks``.
- ``PROTECTED_APP_ISSUER``: the expected ``iss`` in ``jwks`` mode (comma-separated for several).
- ``PROTECTED_APP_JWKS_URL``: the issuer's JWKS in ``jwks`` mode.
- ``PROTECTED_APP_GOOGLE_CERTS_URL``: Google's JWKS in ``google`` mode (default: Google's own).
- ``PROTECTED_APP_FRONT_END_SECRET``: in ``cloud-run`` mode, the secret the lab's front end
  sends in ``X-Wiflab-Front-End``; with it, a request that did not come through the front end
  is never reported verified.
- ``PROTECTED_APP_PUBLIC``: ``1`` when the service allows unauthenticated calls: then no
  token is reported verified in ``cloud-run`` mode (Cloud Run checked none).

``Settings.from_env`` reads them, ``Settings.to_env`` writes them: a server started with the
variables of settings runs with those settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlparse

# google-auth's verify_oauth2_token accepts both spellings; Google issues either.
from wiflab_core.wire import GOOGLE_ISSUERS

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v3/certs"
CLOUD_RUN_VARIABLES = ("K_SERVICE", "K_REVISION", "K_CONFIGURATION")


class VerifyMode(StrEnum):
    CLOUD_RUN = "cloud-run"
    GOOGLE = "google"
    JWKS = "jwks"
    NONE = "none"


class SettingsError(ValueError):
    """A setting is missing or invalid: the message names the variable."""


@dataclass(frozen=True)
class Settings:
    verify: VerifyMode = VerifyMode.NONE
    audiences: tuple[str, ...] = ()
    issuers: tuple[str, ...] = ()
    jwks_url: str | None = None
    # The K_* variables Cloud Run sets, shown by /dump when present.
    cloud_run: Mapping[str, str] = field(default_factory=dict)
    front_end_secret: str = field(default="", repr=False)
    public: bool = False

    def __post_init__(self) -> None:
        if self.verify is VerifyMode.GOOGLE:
            # Google's issuers and certs unless told otherwise, as from_env reads them.
            object.__setattr__(self, "issuers", self.issuers or GOOGLE_ISSUERS)
            object.__setattr__(self, "jwks_url", self.jwks_url or GOOGLE_CERTS_URL)
        if self.verify in (VerifyMode.GOOGLE, VerifyMode.JWKS) and not self.audiences:
            raise SettingsError(
                f"PROTECTED_APP_AUDIENCE is required when PROTECTED_APP_VERIFY={self.verify}: "
                "a token minted for any other service would otherwise pass"
            )
        if self.verify is VerifyMode.JWKS:
            if not self.issuers:
                raise SettingsError(
                    "PROTECTED_APP_ISSUER is required when PROTECTED_APP_VERIFY=jwks"
                )
            if not self.jwks_url:
                raise SettingsError(
                    "PROTECTED_APP_JWKS_URL is required when PROTECTED_APP_VERIFY=jwks"
                )
        if self.jwks_url and urlparse(self.jwks_url).scheme not in ("http", "https"):
            raise SettingsError(f"the JWKS URL must be http(s), got {self.jwks_url!r}")

    @classmethod
    def google(cls, audiences: tuple[str, ...], certs_url: str = GOOGLE_CERTS_URL) -> Settings:
        return cls(VerifyMode.GOOGLE, audiences, GOOGLE_ISSUERS, certs_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        cloud_run = {name: env[name] for name in CLOUD_RUN_VARIABLES if env.get(name)}
        default = VerifyMode.CLOUD_RUN if "K_SERVICE" in cloud_run else VerifyMode.NONE
        raw_mode = env.get("PROTECTED_APP_VERIFY", "").strip() or default
        try:
            mode = VerifyMode(raw_mode)
        except ValueError:
            choices = ", ".join(m.value for m in VerifyMode)
            raise SettingsError(
                f"PROTECTED_APP_VERIFY must be one of {choices}; got {raw_mode!r}"
            ) from None
        audiences = _split(env.get("PROTECTED_APP_AUDIENCE", ""))
        secret = env.get("PROTECTED_APP_FRONT_END_SECRET", "").strip()
        public = env.get("PROTECTED_APP_PUBLIC", "").strip() == "1"
        if mode is VerifyMode.GOOGLE:
            certs_url = env.get("PROTECTED_APP_GOOGLE_CERTS_URL", "").strip() or GOOGLE_CERTS_URL
            return cls(mode, audiences, GOOGLE_ISSUERS, certs_url, cloud_run, secret, public)
        return cls(
            mode,
            audiences,
            _split(env.get("PROTECTED_APP_ISSUER", "")),
            env.get("PROTECTED_APP_JWKS_URL", "").strip() or None,
            cloud_run,
            secret,
            public,
        )

    def to_env(self) -> dict[str, str]:
        """Every variable ``from_env`` reads, so that it reads back these settings; unset ones
        are empty, overriding any inherited from the parent's environment."""
        google = self.verify is VerifyMode.GOOGLE
        return {
            "PROTECTED_APP_VERIFY": self.verify.value,
            "PROTECTED_APP_AUDIENCE": ",".join(self.audiences),
            # In google mode the issuers are Google's; only the certs URL may differ.
            "PROTECTED_APP_ISSUER": "" if google else ",".join(self.issuers),
            "PROTECTED_APP_JWKS_URL": "" if google else self.jwks_url or "",
            "PROTECTED_APP_GOOGLE_CERTS_URL": (self.jwks_url or "") if google else "",
            "PROTECTED_APP_FRONT_END_SECRET": self.front_end_secret,
            "PROTECTED_APP_PUBLIC": "1" if self.public else "",
            **{name: self.cloud_run.get(name, "") for name in CLOUD_RUN_VARIABLES},
        }


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())
