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

Shared between processes (``shared``: a directory, e.g. the state dir's ``google/jwks``): every
fetch's JWKS is written to one file per source (``wiflab_core.state_file``: atomic, strictly
newer stamp), and every lookup first follows that file with one ``os.stat``: a JWKS another
worker fetched replaces this worker's at once. So a retired key that one worker's refetch saw
go is refused by every worker, and a rotated key one worker fetched is known to all without
their own fetch. The file's age counts against the TTL as if this worker had fetched it. A
fetch that started before the one already in the file does not overwrite it (an ``flock``
around the write). Each worker keeps its own cooldown, so N workers cost at most N unknown-kid
refetches per cooldown. An unreadable or broken file is ignored (the worker's own cache
answers); a file that cannot be written leaves this worker's cache correct and the others
refetching by their own rules.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests

from wiflab_core.jose import KeyLookup, KeysUnavailable
from wiflab_core.keys import KeyLoadError, VerificationKeys
from wiflab_core.state_file import MISSING, Stamp, exclusive, stamp_or_missing, write_stamped

log = logging.getLogger(__name__)

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
    fetched_at: float  # on the cache's clock


@dataclass(frozen=True)
class _Fetched:
    """One fetch's result: the JWKS document and the keys parsed from it."""

    doc: Mapping[str, Any]
    keys: VerificationKeys


@dataclass
class _Source:
    entry: _Entry | None = None
    refetched_at: float = float("-inf")  # the last refetch an unknown kid caused
    in_flight: threading.Event | None = None  # set when the fetch in flight ends
    error: IssuerUnreachable | None = None  # why the last fetch failed
    stamp: Stamp = MISSING  # the shared file's stamp this worker last followed
    file: Path | None = None  # the shared file, when the cache is shared


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
        shared: Path | None = None,
        wall: Callable[[], float] = time.time,
    ):
        """``shared``: the directory whose files every process of the part follows (see the
        module); ``wall``: the wall clock the shared files' fetch times are in."""
        self._ttl = ttl
        self._allow_http = allow_http
        self._session = session or requests.Session()
        self._clock = clock
        self._timeout = timeout
        self._cooldown = refetch_cooldown
        self._follower_wait = follower_wait
        self._sources: dict[str, _Source] = {}
        self._guard = threading.Lock()  # held for bookkeeping only, never across I/O
        self._shared = shared
        self._wall = wall

    def key(self, source: str, kid: str) -> jwt.PyJWK | None:
        """The source's key with this kid, or None; raises IssuerUnreachable."""
        now = self._clock()
        with self._guard:
            state = self._sources.get(source)
            if state is None:
                file = self._file(source) if self._shared is not None else None
                state = self._sources[source] = _Source(file=file)
        if state.file is not None:
            self._follow(source, state, state.file, now)
        with self._guard:
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
        started = self._wall()
        try:
            fetched = self._fetch(source)
            entry = _Entry(fetched.keys, self._clock())
            with self._guard:
                state.entry, state.error = entry, None
        except IssuerUnreachable as exc:
            with self._guard:
                state.error = exc
            raise
        finally:
            with self._guard:
                state.in_flight = None
            done.set()
        if state.file is not None:
            self._publish(source, state, state.file, fetched.doc, started)
        return entry

    def _fetch(self, source: str) -> _Fetched:
        return self._jwks(source)

    def _jwks(self, url: str) -> _Fetched:
        doc = self._get_json(url)
        try:
            return _Fetched(doc, VerificationKeys(doc))
        except KeyLoadError as exc:
            raise IssuerUnreachable(f"the JWKS is not valid: {exc}") from None

    # Shared between processes (see the module).

    def _file(self, source: str) -> Path:
        assert self._shared is not None
        digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:32]
        return self._shared / f"{digest}.json"

    def _follow(self, source: str, state: _Source, path: Path, now: float) -> None:
        """Adopt the shared file's JWKS if it changed since this worker last looked.
        # unverified: Google's STS runs on many machines, each with a cache of its own; the
        # stand-in's workers agree, so a retired key is refused by all once one saw it go."""
        stamp = stamp_or_missing(path)
        if stamp == state.stamp:  # one tuple read: the common case takes no lock
            return
        shared = _read_shared(path, source)
        with self._guard:
            state.stamp = stamp
            if shared is None:
                return
            keys, fetched_wall = shared
            age = max(0.0, self._wall() - fetched_wall)
            fetched_at = now - age
            if state.entry is None or fetched_at >= state.entry.fetched_at:
                state.entry, state.error = _Entry(keys, fetched_at), None

    def _publish(
        self, source: str, state: _Source, path: Path, doc: Mapping[str, Any], started: float
    ) -> None:
        """Write this fetch's JWKS for the other processes, unless a fetch that started later
        already did."""
        text = json.dumps(
            {"source": source, "fetched_at": started, "jwks": doc}, separators=(",", ":")
        )
        try:
            with exclusive(path):
                current = _read_shared(path, source)
                if current is not None and current[1] > started:
                    return  # newer keys: the next lookup follows them
                stamp = write_stamped(path, text)
        except OSError as exc:
            log.warning("the shared JWKS cache %s cannot be written: %s", path, exc)
            return
        with self._guard:
            state.stamp = stamp

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

    def _fetch(self, source: str) -> _Fetched:
        discovery = self._get_json(source.rstrip("/") + "/.well-known/openid-configuration")
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise IssuerUnreachable("the discovery document has no jwks_uri")
        return self._jwks(jwks_uri)


def _read_shared(path: Path, source: str) -> tuple[VerificationKeys, float] | None:
    """A shared file's keys and wall-clock fetch time; None when missing, unreadable, for
    another source (a hash collision) or not what ``_publish`` writes."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("source") != source:
        return None
    fetched_at = doc.get("fetched_at")
    jwks = doc.get("jwks")
    if not isinstance(fetched_at, (int, float)) or isinstance(fetched_at, bool):
        return None
    if not isinstance(jwks, dict):
        return None
    try:
        return VerificationKeys(jwks), float(fetched_at)
    except KeyLoadError:
        return None
