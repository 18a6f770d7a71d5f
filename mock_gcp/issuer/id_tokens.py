"""Google's ID-token issuer: signs service accounts' ID tokens and publishes its keys.

Real tokens carry ``iss: https://accounts.google.com``; locally the issuer is the
stand-in's own URL unless told otherwise (a relying party fetching certs from the issuer
would otherwise go to Google). Its keys come from the key source (``mock_gcp.key_source``), so
every worker and instance signs with the same one; they rotate on request, and the previous
key stays published, as Google keeps two or three keys in its certs at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from mock_gcp.key_source import KEPT_KEYS, KeyMaterial, KeySource
from mock_gcp.topology import ServiceAccount
from wiflab_core import jose, keys
from wiflab_core.wire import GOOGLE_ISSUERS

ID_TOKEN_LIFETIME = 3600
# Google publishes the current and the previous signing keys.
PUBLISHED_KEYS = KEPT_KEYS


class GoogleIssuer:
    def __init__(
        self,
        issuer: str,
        signing_keys: list[keys.SigningKey] | None = None,
        clock: Callable[[], float] = time.time,
        *,
        source: KeySource | None = None,
    ):
        """Signs with the key source's active issuer key (``source``; else keys of its own,
        ``signing_keys`` or a fresh one), and publishes the current and previous ones."""
        self.issuer = issuer.rstrip("/")
        self._clock = clock
        self._source = source or KeySource(KeyMaterial.fresh(signing_keys))

    @property
    def source(self) -> KeySource:
        return self._source

    @property
    def active(self) -> keys.SigningKey:
        return self._source.current().active_issuer

    def rotate(self) -> keys.SigningKey:
        """A new active key; the previous one stays published, older ones are retired."""
        return self._source.rotate(sealing=False).active_issuer

    def jwks(self) -> dict[str, Any]:
        return self._source.current().issuer_jwks

    def pem_map(self) -> dict[str, str]:
        return dict(self._source.current().issuer_pem_map)

    def key_for(self, kid: str) -> jwt.PyJWK | None:
        return self._source.current().issuer_key(kid)

    def id_token(
        self,
        account: ServiceAccount,
        audience: str,
        include_email: bool,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        now = int(self._clock())
        claims: dict[str, Any] = {
            "aud": audience,
            "azp": account.unique_id,
            "exp": now + ID_TOKEN_LIFETIME,
            "iat": now,
            "iss": self.issuer,
            "sub": account.unique_id,
        }
        if include_email:
            claims["email"] = account.email
            claims["email_verified"] = True
        claims.update(extra or {})
        return self.active.sign(claims)

    def verify(self, token: str, audience: str | None = None) -> dict[str, Any]:
        """The claims of one of our ID tokens; raises jose.TokenRejected otherwise."""
        return self.check(token, audience).claims

    def check(self, token: str, audience: str | None = None) -> jose.Verified:
        """``verify`` with its checks: ours (RS256, a published kid, our issuer), unexpired."""
        return jose.verify(
            token,
            self.key_for,
            algorithms=("RS256",),
            now=self._clock(),
            issuer=(self.issuer, *GOOGLE_ISSUERS),
            audience=None if audience is None else (audience,),
        )

    def discovery(self, base_url: str) -> dict[str, Any]:
        """The subset of Google's OpenID discovery document that verifiers read. As Google's
        issuer (intercept mode: clients reach it at accounts.google.com), Google's own URLs."""
        base = base_url.rstrip("/")
        google = self.issuer in GOOGLE_ISSUERS
        return {
            "issuer": self.issuer,
            **(
                {
                    "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
                    "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
                    "token_endpoint": "https://oauth2.googleapis.com/token",
                    "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
                }
                if google
                else {
                    "jwks_uri": f"{base}/oauth2/v3/certs",
                    "token_endpoint": f"{base}/token",
                    "userinfo_endpoint": f"{base}/v1/userinfo",
                }
            ),
            "response_types_supported": ["code", "token", "id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": [
                "aud",
                "email",
                "email_verified",
                "exp",
                "iat",
                "iss",
                "sub",
                "azp",
            ],
        }
