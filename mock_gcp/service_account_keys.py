"""Service accounts' Google-managed signing keys, used by signBlob and signJwt.

Google creates these keys itself and publishes their certificates at
``/service_accounts/v1/metadata/x509/EMAIL``. Here a key is made the first time an account
signs (generating keys for every account at start-up would slow ``wiflab up`` for nothing),
in the key source (``mock_gcp.key_source``): every worker and instance that shares it signs
with the same key and publishes the same certificate, and two requests never make two keys.
"""

from __future__ import annotations

from mock_gcp.key_source import KeySource, google_key_id
from wiflab_core import keys

__all__ = ["ServiceAccountKeys", "google_key_id"]


class ServiceAccountKeys:
    def __init__(self, source: KeySource | None = None) -> None:
        self._source = source or KeySource()

    def for_account(self, email: str) -> keys.SigningKey:
        return self._source.account_key(email).key

    def certificates(self, email: str) -> dict[str, str]:
        certified = self._source.account_key(email)
        return {certified.key.kid: certified.certificate}

    def jwks(self, email: str) -> dict:
        return keys.render_jwks([self.for_account(email).public_jwk])
