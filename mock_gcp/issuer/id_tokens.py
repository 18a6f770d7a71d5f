"""Google's ID-token issuer: signs service accounts' ID tokens and publishes its keys.

Real tokens carry ``iss: https://accounts.google.com``; locally the issuer is the
stand-in's own URL unless told otherwise (a relying party fetching certs from the issuer
would otherwise go to Google). Keys are generated at start-up and rotate on request; the
previous key stays published, as Google keeps two or three keys in its certs at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from mock_gcp.topology import ServiceAccount
from wiflab_core import jose, keys
from wiflab_core.wire import GOOGLE_ISSUERS

ID_TOKEN_LIFETIME = 3600
# Google publishes the current and the previous signing keys.
PUBLISHED_KEYS = 2


class GoogleIssuer:
    def __init__(
        self,
        issuer: str,
        signing_keys: list[keys.SigningKey] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.issuer = issuer.rstrip("/")
        self._clock = clock
        self._lock = threading.Lock()
        self._published: list[keys.SigningKey] = []
        self._certificates: dict[str, str] = {}
        self._verification = keys.VerificationKeys({"keys": []})
        for key in reversed(signing_keys or [keys.generate("RS256")]):
            self._publish(key)

    @property
    def active(self) -> keys.SigningKey:
        return self._published[0]

    def rotate(self) -> keys.SigningKey:
        """A new active key; the previous one stays published, older ones are retired."""
        key = keys.generate("RS256")
        self._publish(key)
        return key

    def _publish(self, key: keys.SigningKey) -> None:
        with self._lock:
            published = [key, *self._published][:PUBLISHED_KEYS]
            certificates = {
                k.kid: self._certificates.get(k.kid) or k.certificate_pem("wiflab-google-issuer")
                for k in published
            }
            verification = keys.VerificationKeys(keys.render_jwks(k.public_jwk for k in published))
            self._published, self._certificates, self._verification = (
                published,
                certificates,
                verification,
            )

    def jwks(self) -> dict[str, Any]:
        return keys.render_jwks(k.public_jwk for k in self._published)

    def pem_map(self) -> dict[str, str]:
        return dict(self._certificates)

    def key_for(self, kid: str) -> jwt.PyJWK | None:
        return self._verification.get(kid)

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
