"""Service accounts' Google-managed signing keys, used by signBlob and signJwt.

Google creates these keys itself and publishes their certificates at
``/service_accounts/v1/metadata/x509/EMAIL``. Here a key is made the first time an account
signs (generating keys for every account at start-up would slow ``wiflab up`` for nothing);
one lock keeps two requests from making two keys.
"""

from __future__ import annotations

import hashlib
import threading

from cryptography.hazmat.primitives import serialization

from wiflab_core import keys


def _google_key_id(key: keys.SigningKey) -> str:
    # Google's service-account key ids are 40 hex characters.
    der = key.private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha1(der).hexdigest()


class ServiceAccountKeys:
    def __init__(self) -> None:
        self._keys: dict[str, keys.SigningKey] = {}
        self._certificates: dict[str, str] = {}
        self._lock = threading.Lock()

    def for_account(self, email: str) -> keys.SigningKey:
        found = self._keys.get(email)
        if found is not None:
            return found
        with self._lock:
            if email not in self._keys:
                generated = keys.generate("RS256")
                key = keys.SigningKey.of(generated.private, kid=_google_key_id(generated))
                self._certificates[email] = key.certificate_pem(email)
                self._keys[email] = key
            return self._keys[email]

    def certificates(self, email: str) -> dict[str, str]:
        key = self.for_account(email)
        return {key.kid: self._certificates[email]}

    def jwks(self, email: str) -> dict:
        return keys.render_jwks([self.for_account(email).public_jwk])
