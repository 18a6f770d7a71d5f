"""The one JWKS cache: verification keys fetched once, looked up by kid.

Two ways to find the keys: a JWKS URL (Google's certs, for Cloud Run's front end and the
protected app: ``JwksCache``), or an OIDC issuer's discovery document (what STS does with a
provider's ``issuerUri``: fetch ``ISSUER/.well-known/openid-configuration``, then its
``jwks_uri``: ``IssuerKeyCache``). A kid the cache does not know triggers one refetch (so key
rotation works without waiting for the cache to expire); a kid still unknown after that is
remembered for a while so a stream of bad tokens cannot make us hammer the source.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import jwt
import requests

from wiflab_core.jose import KeyLookup, KeysUnavailable
from wiflab_core.keys import KeyLoadError, VerificationKeys

FETCH_TIMEOUT = 5.0
UNKNOWN_KID_MEMORY = 30.0


class IssuerUnreachable(KeysUnavailable):
    """Discovery or JWKS could not be fetched or parsed; the message says which and why."""


@dataclass
class _Entry:
    keys: VerificationKeys
    fetched_at: float
    unknown_kids: dict[str, float] = field(default_factory=dict)


class JwksCache:
    """Keys by JWKS URL (``source``); ``key`` raises ``IssuerUnreachable``."""

    def __init__(
        self,
        *,
        ttl: float = 300.0,
        allow_http: bool = True,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = FETCH_TIMEOUT,
    ):
        self._ttl = ttl
        self._allow_http = allow_http
        self._session = session or requests.Session()
        self._clock = clock
        self._timeout = timeout
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def key(self, source: str, kid: str) -> jwt.PyJWK | None:
        """The source's key with this kid, or None; raises IssuerUnreachable."""
        now = self._clock()
        entry = self._entries.get(source)
        if entry is None or now - entry.fetched_at > self._ttl:
            entry = self._refresh(source, stale=entry)
        found = entry.keys.get(kid)
        if found is not None:
            return found
        remembered = entry.unknown_kids.get(kid)
        if remembered is not None and now - remembered < UNKNOWN_KID_MEMORY:
            return None
        entry = self._refresh(source, stale=entry)
        found = entry.keys.get(kid)
        if found is None:
            entry.unknown_kids[kid] = now
        return found

    def lookup(self, source: str) -> KeyLookup:
        """kid -> key for one source, as ``wiflab_core.jose.verify`` takes it."""
        return lambda kid: self.key(source, kid)

    def _refresh(self, source: str, stale: _Entry | None) -> _Entry:
        with self._lock_for(source):
            current = self._entries.get(source)
            if current is not None and current is not stale:
                return current  # another thread refreshed while we waited
            entry = _Entry(self._fetch(source), self._clock())
            self._entries[source] = entry
            return entry

    def _lock_for(self, source: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(source, threading.Lock())

    def _fetch(self, source: str) -> VerificationKeys:
        return self._jwks(source)

    def _jwks(self, url: str) -> VerificationKeys:
        try:
            return VerificationKeys(self._get_json(url))
        except KeyLoadError as exc:
            raise IssuerUnreachable(f"the JWKS is not valid: {exc}") from None

    def _get_json(self, url: str) -> dict:
        scheme = urlsplit(url).scheme
        if scheme != "https" and not (scheme == "http" and self._allow_http):
            raise IssuerUnreachable(f"{url} is not an https URL")
        try:
            response = self._session.get(url, timeout=self._timeout)
        except requests.RequestException as exc:
            raise IssuerUnreachable(f"GET {url}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise IssuerUnreachable(f"GET {url}: HTTP {response.status_code}")
        try:
            doc = response.json()
        except ValueError:
            raise IssuerUnreachable(f"GET {url}: not JSON") from None
        if not isinstance(doc, dict):
            raise IssuerUnreachable(f"GET {url}: not a JSON object")
        return doc


class IssuerKeyCache(JwksCache):
    """Keys by OIDC issuer (``source``), found through its discovery document."""

    def _fetch(self, source: str) -> VerificationKeys:
        discovery = self._get_json(source.rstrip("/") + "/.well-known/openid-configuration")
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise IssuerUnreachable("the discovery document has no jwks_uri")
        return self._jwks(jwks_uri)
