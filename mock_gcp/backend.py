"""The state Google's side shares across its services: the topology, the token sealer, keys.

One GoogleBackend serves STS, IAM Credentials, the Google issuer and the metadata server of
one emulated project. The topology can be replaced at run time (tests apply their own
pools and bindings without a restart): it is one immutable object swapped atomically, and
with a state file every process of the stack follows it (``mock_gcp.topology_state``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mock_gcp.issuer.id_tokens import GoogleIssuer
from mock_gcp.journal.store import Journal, MemoryJournal
from mock_gcp.key_source import KeySource
from mock_gcp.service_account_keys import ServiceAccountKeys
from mock_gcp.tokens import TokenStore
from mock_gcp.topology import Topology
from mock_gcp.topology_state import TopologyState
from wiflab_core.jwks_cache import IssuerKeyCache


@dataclass(frozen=True)
class LocalDeviations:
    """Where the stand-in must differ from Google because it runs on loopback.

    Each is explicit and named here, and listed in the README's fidelity table.
    """

    # The issuer of Google-signed ID tokens: the stand-in's own URL, since relying parties
    # fetch certs from the issuer. Set to "https://accounts.google.com" for clients that
    # insist on it (they must then be pointed at the stand-in's certs URL).
    google_issuer: str
    # Providers without oidc.issuerUri trust this lab's own fake IdP at this URL.
    lab_idp_issuer: str | None = None
    # Google fetches discovery and JWKS over https only; the lab's IdP speaks http locally.
    allow_http_issuers: bool = True
    # How long STS caches an issuer's JWKS (Google's figure is unpublished).
    jwks_cache_seconds: float = 300.0


class GoogleBackend:
    def __init__(
        self,
        topology: Topology,
        deviations: LocalDeviations,
        *,
        clock: Callable[[], float] = time.time,
        issuer: GoogleIssuer | None = None,
        journal: Journal | None = None,
        topology_state: Path | None = None,
        keys: KeySource | None = None,
        jwks_cache: Path | None = None,
    ):
        """``keys``: the key source this instance shares with others (``KeySource.open``);
        else the issuer's, or keys of this process's own. ``topology_state``: the file through
        which every process of the stack follows a topology applied at run time
        (mock_gcp.topology_state); None: this object only. ``jwks_cache``: the directory
        through which every process shares the issuers' JWKS it fetched
        (wiflab_core.jwks_cache); None: this object's own cache."""
        self._topology = TopologyState(topology, topology_state)
        self.deviations = deviations
        self.clock = clock
        if keys is None:
            keys = issuer.source if issuer is not None else KeySource()
        self.keys = keys
        self.tokens = TokenStore(clock, lambda: self.topology, keys)
        self.issuer = issuer or GoogleIssuer(deviations.google_issuer, clock=clock, source=keys)
        self.issuer_keys = IssuerKeyCache(
            ttl=deviations.jwks_cache_seconds,
            allow_http=deviations.allow_http_issuers,
            shared=jwks_cache,
        )
        self.service_account_keys = ServiceAccountKeys(keys)
        # Every request with its decision (mock_gcp.journal); one process's memory unless
        # the stack gives the file its parts share.
        self.journal: Journal = journal if journal is not None else MemoryJournal(clock=clock)

    @property
    def topology(self) -> Topology:
        return self._topology.current()

    @property
    def initial_topology(self) -> Topology:
        """The topology this backend started with."""
        return self._topology.initial

    def apply_topology(self, topology: Topology) -> None:
        """Swap in a new topology; requests in flight finish with the one they started with."""
        self._topology.apply(topology)

    def reset_topology(self) -> Topology:
        """Back to the start-up topology (in every process sharing the state file)."""
        return self._topology.reset()

    def now(self) -> float:
        return self.clock()
