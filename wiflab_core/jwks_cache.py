"""The one JWKS cache: verification keys fetched once, looked up by kid.

Two ways to find the keys: a JWKS URL (Google's certs, for Cloud Run's front end and the
protected app: ``JwksCache``), or an OIDC issuer's discovery document (what STS does with a
provider's ``issuerUri``: fetch ``ISSUER/.well-known/openid-configuration``, then its
``jwks_uri``: ``IssuerKeyCache``).

What a stream of hostile tokens (a fresh random kid each) can cost, per source:

- A kid the cache does not know triggers a refetch (so key rotation works without waiting for
  the cache to expire). A refetch that did not find its kid starts a cooldown: no other
  refetch for an unknown kid in the next ``REFETCH_COOLDOWN`` seconds; an unknown
  kid within the cooldown is answered from the cache: unknown (after waiting, at most
  ``FOLLOWER_WAIT``, for that refetch if it is still in flight). So N bad tokens cost at most
  one fetch (discovery + JWKS) per cooldown, not N.
- Single flight: at most one fetch per source is in flight. The request that starts it waits
  for its own network I/O (each GET bounded by ``timeout``, ``FETCH_TIMEOUT`` by default; two
  GETs for an issuer). Every other request for that source meanwhile is answered at once
  from the keys already cached (even past their TTL: at most one fetch timeout staler), or,
  when nothing is cached yet, waits at most ``FOLLOWER_WAIT`` seconds for that fetch before
  failing with ``IssuerUnreachable``. No request thread is ever held longer than that behind
  another request's network I/O, so a hung issuer takes one thread per source, not all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import jwt
import requests

from wiflab_core.jose import KeyLookup, KeysUnavailable
from wiflab_core.keys import KeyLoadError, VerificationKeys

FETCH_TIMEOUT = 5.0
# At most one unknown-kid refetch per source in this many seconds. # unverified: Google
# publishes no figure; 5 s keeps a rotation visible within seconds while bounding the load a
# stream of random kids puts on the issuer to 2 GETs per 5 s.
REFETCH_COOLDOWN = 5.0
# The longest a request waits for another request's fetch when nothing is cached to answer from.
FOLLOWER_WAIT = 1.0


class IssuerUnreachable(KeysUnavailable):
    """Discovery or JWKS could not be fetched or parsed; the message says which and why."""


@dataclass
class _Entry:
    keys: VerificationKeys
    fetched_at: float


@dataclass
class _Source:
    entry: _Entry | None = None
    refetched_at: float = float("-inf")  # the last refetch an unknown kid caused
    in_flight: threading.Event | None = None  # set when the fetch in flight ends
    error: IssuerUnreachable | None = None  # why the last fetch failed


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
        refetch_cooldown: float = REFETCH_COOLDOWN,
        follower_wait: float = FOLLOWER_WAIT,
    ):
        self._ttl = ttl
        self._allow_http = allow_http
        self._session = session or requests.Session()
        self._clock = clock
        self._timeout = timeout
        self._cooldown = refetch_cooldown
        self._follower_wait = follower_wait
        self._sources: dict[str, _Source] = {}
        self._guard = threading.Lock()  # held for bookkeeping only, never across I/O

    def key(self, source: str, kid: str) -> jwt.PyJWK | None:
        """The source's key with this kid, or None; raises IssuerUnreachable."""
        now = self._clock()
        with self._guard:
            state = self._sources.setdefault(source, _Source())
            entry = state.entry
            fresh = entry is not None and now - entry.fetched_at <= self._ttl
            if fresh and entry is not None:
                found = entry.keys.get(kid)
                if found is not None:
                    return found
                if now - state.refetched_at < self._cooldown:
                    # Refetched lately: unknown, from the cache; unless that refetch is still
                    # in flight (a rotated key's first tokens, arriving together): wait for
                    # it, at most FOLLOWER_WAIT.
                    done = state.in_flight
                    if done is None:
                        return None
                else:
                    state.refetched_at = now
                    done = None
        if fresh and done is not None:
            done.wait(self._follower_wait)
            with self._guard:
                latest = state.entry
            return latest.keys.get(kid) if latest is not None else None
        found = self._refreshed(source, state).keys.get(kid)
        if fresh and found is not None:
            # The refetch found the kid: a rotation, not a random kid. The cooldown is for
            # kids a refetch did not find, so the next rotation is seen at once too.
            with self._guard:
                state.refetched_at = float("-inf")
        return found

    def lookup(self, source: str) -> KeyLookup:
        """kid -> key for one source, as ``wiflab_core.jose.verify`` takes it."""
        return lambda kid: self.key(source, kid)

    def _refreshed(self, source: str, state: _Source) -> _Entry:
        """Keys after one fetch by this request, or the keys another request's fetch in
        flight leaves (see the module's bounds)."""
        with self._guard:
            done = state.in_flight
            if done is None:
                state.in_flight = done = threading.Event()
                leader = True
            else:
                leader = False
                if state.entry is not None:
                    return state.entry  # answered at once from the cache
        if not leader:
            done.wait(self._follower_wait)
            with self._guard:
                if state.entry is not None:
                    return state.entry
                if done.is_set() and state.error is not None:
                    raise state.error
            raise IssuerUnreachable(
                f"{source}: keys still being fetched by another request after "
                f"{self._follower_wait:g}s"
            )
        try:
            keys = self._fetch(source)
        except IssuerUnreachable as exc:
            with self._guard:
                state.error = exc
            raise
        finally:
            with self._guard:
                state.in_flight = None
            done.set()
        entry = _Entry(keys, self._clock())
        with self._guard:
            state.entry, state.error = entry, None
        return entry

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
