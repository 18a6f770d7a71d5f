"""The state Google's side shares across its services: the topology, the token sealer, keys.

One GoogleBackend serves STS, IAM Credentials, the Google issuer and the metadata server of
one emulated project. The topology can be replaced at run time (tests apply their own
pools and bindings without a restart): it is one immutable object swapped atomically, and
with a state file every process of the stack follows it (``mock_gcp.topology_state``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mock_gcp.issuer.id_tokens import GoogleIssuer
from mock_gcp.journal.store import Journal, MemoryJournal
from mock_gcp.key_source import KeySource
from mock_gcp.projects import Projects, conflict
from mock_gcp.service_account_keys import ServiceAccountKeys
from mock_gcp.tokens import TokenStore
from mock_gcp.topology import Topology
from mock_gcp.topology_state import ProjectsState, ServedProjects, TopologyState, projects_dir
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
    # Real providers' issuers (``https://token.actions.githubusercontent.com``, templates with
    # ``{param}``s such as GKE's) -> the lab IdP's preset path standing in for them, so that a
    # provider written with the real issuer trusts the lab's look-alike tokens locally.
    preset_issuers: Mapping[str, str] = field(default_factory=dict)
    # Google's STS executes an AWS caller's signed GetCallerIdentity at AWS; locally, at the
    # lab's AWS side at this URL (the signed Host header kept). None: at real AWS.
    aws_sts_url: str | None = None

    def issuer_standing_in(self, issuer: str) -> str:
        """The lab issuer that stands in for ``issuer`` locally, else ``issuer`` itself."""
        exact = self.preset_issuers.get(issuer)
        if exact is not None:
            return exact
        for template, lab in self.preset_issuers.items():
            if "{" in template and _template_pattern(template).fullmatch(issuer):
                return lab
        return issuer


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile("[^/]+".join(re.escape(part) for part in parts))


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
        projects: tuple[Topology, ...] = (),
        jwks_cache: Path | None = None,
    ):
        """``keys``: the key source this instance shares with others (``KeySource.open``);
        else the issuer's, or keys of this process's own. ``topology_state``: the file through
        which every process of the stack follows a topology applied at run time
        (mock_gcp.topology_state); None: this object only. ``projects``: the other projects
        served at start (each topology under its own project number, mock_gcp.projects); the
        ones put at run time live beside the state file, in ``projects/NUMBER/``. ``jwks_cache``:
        the directory through which every process shares the issuers' JWKS it fetched
        (wiflab_core.jwks_cache); None: this object's own cache."""
        for i, other in enumerate(projects):
            for j, earlier in enumerate((topology, *projects[:i])):
                clash = conflict(other, f"topology {i + 2}", earlier, f"topology {j + 1}")
                if clash is not None:
                    raise clash
        self._topology = TopologyState(topology, topology_state)
        self._projects = ProjectsState(projects, projects_dir(topology_state))
        self._served = ServedProjects(self._topology, self._projects)
        self.deviations = deviations
        self.clock = clock
        if keys is None:
            keys = issuer.source if issuer is not None else KeySource()
        self.keys = keys
        self.tokens = TokenStore(clock, lambda: self.projects, keys)
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

    @property
    def projects(self) -> Projects:
        """Every project served now, the default one first (rebuilt only on a change)."""
        return self._served.current()

    def project(self, number: str) -> Topology | None:
        return self.projects.by_number(number)

    def put_project(self, topology: Topology, new_secret_sha256: str | None = None) -> bool:
        """Serve ``topology`` under its project number (every process, through the state
        dir); ProjectConflict when another project has its id. The default project's number
        replaces the default topology (as ``PUT /wiflab/v1/topology``). ``new_secret_sha256``:
        a new project's secret, claimed first; False when another caller claimed it."""
        self.check_clashes(topology, besides=topology.project_number)
        if topology.project_number == self.topology.project_number:
            self.apply_topology(topology)
            return True
        if new_secret_sha256 is not None and not self._projects.claim(
            topology.project_number, new_secret_sha256
        ):
            return False
        self._projects.put(topology)
        return True

    def delete_project(self, number: str) -> Topology | bool | None:
        """Stop serving the run-time document of project ``number``: True when the project is
        gone; a project loaded at start-up goes back to its start-up topology (returned);
        False when no project has that number."""
        if number == self.topology.project_number:
            self._projects.delete(number)
            return self.reset_topology()
        existed = self._projects.delete(number)
        return self._projects.initial.get(number) or existed

    def project_secret_sha256(self, number: str) -> str | None:
        return self._projects.secret_sha256(number)

    def check_clashes(self, topology: Topology, *, besides: str) -> None:
        """ProjectConflict when ``topology`` would clash with a project served now other
        than project ``besides`` (the one it replaces)."""
        for other in self.projects:
            if other.project_number == besides:
                continue
            clash = conflict(topology, "the document", other, f"project {other.project_number}")
            if clash is not None:
                raise clash

    def now(self) -> float:
        return self.clock()
