"""The library behind wiflab's pytest plugin (``wiflab.pytest_plugin`` registers its fixtures):
the local stack as a test sees it (``WifStack``), external-account configs and credentials for
its providers, and run-time topology overrides. Usable without pytest too.

Only the standard library is imported at load time: the plugin loads in every pytest run of an
environment where wiflab is installed; the stack, the services and google-auth are imported
when a fixture first needs them.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from idp_server.client import IdpClient
    from mock_gcp.backend import GoogleBackend
    from mock_gcp.topology import Topology
    from wiflab_core.endpoints import Endpoints

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
SOURCES = ("file", "url", "executable")
ALLOW_EXECUTABLES = "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES"
EXECUTABLE_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"


def example_topology() -> Path:
    """wif.yaml beside the wiflab package (a source checkout or an editable install)."""
    return Path(__file__).resolve().parent.parent / "wif.yaml"


class WifStack:
    """One target of the chain: its endpoints, its topology, and how to mint and name things.

    ``backend`` is the in-process Google side (threads mode only); elsewhere it is None.
    """

    def __init__(
        self,
        endpoints: Endpoints,
        topology: Topology,
        *,
        backend: GoogleBackend | None = None,
        token_secret: str | None = None,
    ):
        self.endpoints = endpoints
        self._topology = topology
        self.backend = backend
        # The IdP's /token secret, when minting is guarded (a deployed IdP).
        self.token_secret = token_secret

    @property
    def topology(self) -> Topology:
        """The topology in force: a test may have applied its own (wif_topology)."""
        if self.backend is not None:
            return self.backend.topology
        if self.target == "local":  # processes mode: the Google side says
            return fetch_topology(topology_url(self.endpoints))
        return self._topology

    @property
    def target(self) -> str:
        return self.endpoints.target

    # -- names ----------------------------------------------------------------------------

    @property
    def default_provider(self) -> str:
        providers = list(self.endpoints.providers)
        if not providers:
            raise ValueError("the topology has no enabled provider: pass provider='POOL/PROVIDER'")
        return providers[0]

    def audience(self, provider: str | None = None) -> str:
        """The provider's resource name, as STS expects it: ``//iam.googleapis.com/...``."""
        pool, sep, provider_id = (provider or self.default_provider).partition("/")
        if not sep:
            raise ValueError(f"provider {provider!r}: expected 'POOL/PROVIDER'")
        number = self.endpoints.project.number
        return (
            f"//iam.googleapis.com/projects/{number}/locations/global/"
            f"workloadIdentityPools/{pool}/providers/{provider_id}"
        )

    def account(self, name: str) -> str:
        """A service account's email from its name (the part before @), in the target project."""
        if "@" in name:
            return name
        for email in self.endpoints.service_accounts:
            if email.split("@")[0] == name:
                return email
        return f"{name}@{self.endpoints.project.id}.iam.gserviceaccount.com"

    def service_url(self, name: str) -> str:
        return self.endpoints.service_url(name)

    # -- the IdP --------------------------------------------------------------------------

    @cached_property
    def idp(self) -> IdpClient:
        """A client of the lab IdP; it can rotate keys when the admin secret is known."""
        from idp_server.client import IdpClient

        idp = self.endpoints.idp
        if idp is None:
            raise ValueError(f"the {self.target} target has no lab IdP (endpoints idp)")
        secret_file = idp.admin_secret_file
        admin = Path(secret_file).read_text().strip() if secret_file else None
        return IdpClient(
            idp.token_url.removesuffix("/token"),
            token_secret=self.token_secret,
            admin_secret=admin,
        )

    def subject_claims(
        self, profile: str | None = None, *, provider: str | None = None, **claims: Any
    ) -> dict[str, Any]:
        """The profile's claims, the provider's audience, then claims; None removes a claim."""
        profiles = self.topology.idp.profiles
        if profile is None:
            profile = next(iter(profiles), None)
        base: dict[str, Any] = {}
        if profile is not None:
            found = self.topology.idp.claims(profile)
            if found is None:
                raise ValueError(
                    f"profile {profile!r} is not in the topology's idp.profiles "
                    f"({', '.join(profiles) or 'none'})"
                )
            base = found
        merged = {**base, "aud": self.audience(provider), **claims}
        return {name: value for name, value in merged.items() if value is not None}

    def mint(
        self,
        profile: str | None = None,
        *,
        provider: str | None = None,
        alg: str | None = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        """A token signed by the lab IdP (through its /token route, as a workload gets one)."""
        body = json.dumps(self.subject_claims(profile, provider=provider, **claims))
        return self.idp.mint(body, alg=alg, kid=kid)

    # -- Google's APIs --------------------------------------------------------------------

    def iam_client(self, credentials: Any = None) -> Any:
        """google-cloud-iam's IAMCredentialsClient (REST) at this target's endpoint."""
        from google.cloud import iam_credentials_v1

        return iam_credentials_v1.IAMCredentialsClient(
            credentials=credentials,
            transport="rest",
            client_options={"api_endpoint": self.endpoints.iamcredentials.api_endpoint},
        )


@contextmanager
def local_stack(
    topology_path: Path,
    state_dir: Path,
    mode: str = "threads",
    *,
    intercept: bool = False,
    google_workers: int | None = None,
    more_topologies: tuple[Path, ...] = (),
) -> Iterator[WifStack]:
    """The local stand-in on ephemeral loopback ports, stopped on exit; ``intercept``: also
    its proxy for Google's hosts (``intercept_environment`` then sends clients through it);
    ``google_workers``: Google's side's gunicorn workers in processes mode (None: the cores);
    ``more_topologies``: more projects Google's side serves (``mock_gcp.projects``)."""
    from wiflab_lab.stack import Stack, StackOptions

    options = StackOptions(
        topology_path,
        state_dir,
        mode=mode,
        port_base=0,
        intercept=intercept,
        google_workers=google_workers,
        more_topology_paths=more_topologies,
    )
    stack = Stack(options)
    endpoints = stack.start()
    try:
        yield WifStack(endpoints, stack.topology, backend=stack.backend)
    finally:
        stack.stop()


@contextmanager
def intercept_environment(endpoints: Endpoints) -> Iterator[dict[str, str]]:
    """Intercept mode's variables (HTTPS_PROXY, the CA bundles, ...) set in ``os.environ`` for
    this process and the subprocesses it starts, and put back as they were on exit."""
    import os

    env = endpoints.require_intercept().env
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield dict(env)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class ExternalAccounts:
    """External-account configs and google-auth credentials for one test (files in workdir)."""

    def __init__(self, stack: WifStack, workdir: Path):
        self._stack = stack
        self._workdir = workdir
        self._count = 0

    def info(
        self,
        provider: str | None = None,
        source: str = "file",
        service_account: str | None = None,
        *,
        profile: str | None = None,
        subject_token: str | None = None,
        **claims: Any,
    ) -> dict[str, Any]:
        """The config; subject_token: a token of your own (expired, forged...) instead of one
        the IdP mints from the profile and claims."""
        from wiflab_core import external_account as credentials

        if source not in SOURCES:
            raise ValueError(f"source {source!r}: expected one of {', '.join(SOURCES)}")
        if subject_token is not None and (claims or profile or source == "url"):
            raise ValueError(
                "subject_token replaces profile and claims, with source file or executable"
            )
        stack = self._stack
        if source == "url":
            credential_source = self._url_source(profile, provider, claims)
        else:
            token = subject_token or stack.mint(profile, provider=provider, **claims)
            if source == "file":
                path = self._write("subject-token", token)
                credential_source = credentials.file_source(str(path))
            else:
                credential_source = credentials.executable_source(self._executable(token))
        return credentials.external_account(
            stack.audience(provider),
            credential_source,
            token_url=stack.endpoints.sts.token_url,
            service_account=stack.account(service_account) if service_account else None,
            iamcredentials=stack.endpoints.iamcredentials.api_endpoint,
        )

    def credentials(
        self,
        provider: str | None = None,
        source: str = "file",
        service_account: str | None = None,
        *,
        profile: str | None = None,
        subject_token: str | None = None,
        scopes: tuple[str, ...] | list[str] = (CLOUD_PLATFORM,),
        **claims: Any,
    ) -> Any:
        """google-auth's credential for that config; executable needs ALLOW_EXECUTABLES=1."""
        info = self.info(
            provider,
            source,
            service_account,
            profile=profile,
            subject_token=subject_token,
            **claims,
        )
        return credentials_from_info(info, scopes)

    def _url_source(
        self, profile: str | None, provider: str | None, claims: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The IdP's profile route: a fresh token on every refresh, as an ambient endpoint."""
        from wiflab_core import external_account as credentials

        if claims:
            raise ValueError(
                "source='url' serves a profile of the IdP as configured; "
                f"for extra claims ({', '.join(claims)}) use source='file' or 'executable'"
            )
        stack = self._stack
        name = profile or next(iter(stack.topology.idp.profiles), None)
        if name is None:
            raise ValueError("source='url' needs an IdP profile, and the topology has none")
        idp = stack.endpoints.idp
        if idp is None:
            raise ValueError(
                f"source='url' needs the lab IdP, and the {stack.target} target has none"
            )
        url = idp.profile_url.format(profile=quote(name, safe=""))
        url += "?aud=" + quote(stack.audience(provider), safe="")
        secret = stack.token_secret
        headers = {"Authorization": f"Bearer {secret}"} if secret else None
        return credentials.url_source(url, headers)

    def _executable(self, token: str) -> str:
        """A tiny executable printing the executable-response JSON google-auth reads."""
        import jwt

        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
        response = {
            "version": 1,
            "success": True,
            "token_type": EXECUTABLE_TOKEN_TYPE,
            "id_token": token,
            "expiration_time": exp,
        }
        script = self._write(
            "executable.py", f"import sys\nsys.stdout.write({json.dumps(response)!r})\n"
        )
        return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"

    def _write(self, stem: str, text: str) -> Path:
        self._count += 1
        path = self._workdir / f"wif-{self._count}-{stem}"
        path.write_text(text)
        path.chmod(0o600)
        return path


def credentials_from_info(info: Mapping[str, Any], scopes: Any = (CLOUD_PLATFORM,)) -> Any:
    """google-auth's credential class for an external-account config (empty scopes: none)."""
    if "executable" in info["credential_source"]:
        from google.auth import pluggable

        return pluggable.Credentials.from_info(info, scopes=list(scopes) or None)
    from google.auth import identity_pool

    return identity_pool.Credentials.from_info(info, scopes=list(scopes) or None)


TOPOLOGY_PATH = "/wiflab/v1/topology"


def topology_url(endpoints: Endpoints) -> str:
    """The local Google side's ``/wiflab/v1/topology`` (it serves IAM Credentials too)."""
    return endpoints.iamcredentials.api_endpoint.rstrip("/") + TOPOLOGY_PATH


def fetch_topology(url: str, http: Any = None) -> Topology:
    """The topology in force at a local Google side's ``/wiflab/v1/topology``."""
    import requests

    from mock_gcp.topology import parse_topology

    response = (http or requests).get(url, timeout=10)
    response.raise_for_status()
    return parse_topology(response.json())


class TopologyOverride:
    """Apply topologies for one test; ``restore()`` brings back the one it started with.

    Over HTTP (``PUT /wiflab/v1/topology``), so in both stack modes every Google-side
    process and every Cloud Run front end follows at once. A ``GoogleBackend`` may be given
    instead of the URL (a backend built by a test, no server).
    """

    def __init__(self, target: GoogleBackend | str):
        import requests

        self._target = target
        self._http = requests.Session()
        self._original = self._current()

    def document(self) -> dict[str, Any]:
        """The topology in force as an editable YAML-shaped dict (REST field names)."""
        from mock_gcp.topology import topology_to_dict

        return topology_to_dict(self._current())

    def apply(self, topology: Topology | Mapping[str, Any] | str | Path) -> Topology:
        """Swap in a topology (object, dict or YAML file), validated as at start-up."""
        from mock_gcp.topology import Topology, load_topology, parse_topology

        if isinstance(topology, Topology):
            parsed = topology
        elif isinstance(topology, Mapping):
            parsed = parse_topology(dict(topology))
        else:
            parsed = load_topology(topology)
        self._put(parsed)
        return parsed

    @contextmanager
    def applied(self, topology: Topology | Mapping[str, Any] | str | Path) -> Iterator[Topology]:
        previous = self._current()
        try:
            yield self.apply(topology)
        finally:
            self._put(previous)

    def restore(self) -> None:
        self._put(self._original)

    def _current(self) -> Topology:
        if not isinstance(self._target, str):
            return self._target.topology
        return fetch_topology(self._target, self._http)

    def _put(self, topology: Topology) -> None:
        if not isinstance(self._target, str):
            self._target.apply_topology(topology)
            return
        from mock_gcp.topology import topology_to_dict

        response = self._http.put(self._target, json=topology_to_dict(topology), timeout=10)
        if response.status_code != 200:
            raise RuntimeError(
                f"PUT {self._target}: {response.status_code} {response.text.strip()[:500]}"
            )


PROJECT_PATH = "/wiflab/v1/projects/{number}/topology"
PROJECT_SECRET_HEADER = "X-Wiflab-Project-Secret"  # mock_gcp.topology_http.SECRET_HEADER


class WifProject:
    """One project of a shared Google side (``mock_gcp.projects``), for one test session.

    ``put()`` loads the topology under its own project number (``PUT
    /wiflab/v1/projects/NUMBER/topology``): the first PUT of a new project answers its project
    secret, kept here and sent with every later call; ``delete()`` removes the project (its
    tokens are refused from then on). ``admin_secret``: the stand-in's, needed beyond loopback
    to create a project; ``secret``: the project secret of one created earlier.
    """

    def __init__(
        self,
        google_url: str,
        topology: Topology | Mapping[str, Any] | str | Path,
        *,
        admin_secret: str | None = None,
        secret: str | None = None,
    ):
        import requests

        from mock_gcp.topology import Topology, load_topology, parse_topology

        if isinstance(topology, Topology):
            self.topology = topology
        elif isinstance(topology, Mapping):
            self.topology = parse_topology(dict(topology))
        else:
            self.topology = load_topology(topology)
        self.google_url = google_url.rstrip("/")
        self.admin_secret = admin_secret
        self.secret = secret
        self._http = requests.Session()

    @property
    def number(self) -> str:
        return self.topology.project_number

    @property
    def url(self) -> str:
        return self.google_url + PROJECT_PATH.format(number=self.number)

    def put(self, topology: Topology | None = None) -> WifProject:
        """Load (or replace) the project's topology; raises RuntimeError with the answer."""
        from mock_gcp.topology import topology_to_dict

        if topology is not None:
            self.topology = topology
        response = self._http.put(
            self.url, json=topology_to_dict(self.topology), headers=self._auth(), timeout=10
        )
        if response.status_code not in (200, 201):
            raise RuntimeError(f"PUT {self.url}: {response.status_code} {response.text[:500]}")
        self.secret = response.headers.get(PROJECT_SECRET_HEADER) or self.secret
        return self

    def current(self) -> Topology:
        """The project's topology in force on the Google side (the one last put, once the
        project is deleted)."""
        from mock_gcp.topology import parse_topology

        response = self._http.get(self.url, headers=self._auth(), timeout=10)
        if response.status_code == 404:
            return self.topology
        if response.status_code != 200:
            raise RuntimeError(f"GET {self.url}: {response.status_code} {response.text[:500]}")
        return parse_topology(response.json())

    def delete(self) -> None:
        """Remove the project (a project already gone is fine)."""
        response = self._http.delete(self.url, headers=self._auth(), timeout=10)
        if response.status_code not in (200, 404):
            raise RuntimeError(f"DELETE {self.url}: {response.status_code} {response.text[:500]}")

    def journal(self, since: int = 0) -> list[dict[str, Any]]:
        """This project's journal entries (``GET /wiflab/v1/journal?project=NUMBER``)."""
        response = self._http.get(
            f"{self.google_url}/wiflab/v1/journal",
            params={"project": self.number, "since": str(since)},
            headers=self._auth(),
            timeout=10,
        )
        if response.status_code != 200:
            raise RuntimeError(f"journal: {response.status_code} {response.text[:500]}")
        entries: list[dict[str, Any]] = response.json()["entries"]
        return entries

    def stack(self, base: WifStack, services: Mapping[str, str] | None = None) -> WifStack:
        """``base`` (the stack whose Google side serves this project) as this project's
        callers see it: its audiences, accounts and ``services`` (name -> URL) are this
        project's; the IdP and Google's URLs stay base's."""
        return _ProjectStack(project_endpoints(base.endpoints, self.topology, services), self)

    def _auth(self) -> dict[str, str]:
        secret = self.secret or self.admin_secret
        return {"Authorization": f"Bearer {secret}"} if secret else {}

    def __enter__(self) -> WifProject:
        return self.put()

    def __exit__(self, *exc: object) -> None:
        self.delete()


class _ProjectStack(WifStack):
    """A WifStack of one project of a shared Google side: its topology is that project's in
    force (``GET /wiflab/v1/projects/NUMBER/topology``), not the default project's."""

    def __init__(self, endpoints: Endpoints, project: WifProject):
        super().__init__(endpoints, project.topology)
        self._project = project

    @property
    def topology(self) -> Topology:
        return self._project.current()


def project_endpoints(
    endpoints: Endpoints, topology: Topology, services: Mapping[str, str] | None = None
) -> Endpoints:
    """``endpoints`` naming another project of the same Google side."""
    from wiflab_core.endpoints import Project, ProviderEndpoint, ServiceEndpoint
    from wiflab_lab.credential_set import enabled_providers

    update: dict[str, Any] = {
        "project": Project(id=topology.project_id, number=topology.project_number),
        "providers": {
            f"{p.pool_id}/{p.provider_id}": ProviderEndpoint(
                audience=topology.provider_audience(p.pool_id, p.provider_id)
            )
            for p in enabled_providers(topology)
        },
        "service_accounts": tuple(sa.email for sa in topology.service_accounts),
        "credentials": {},
        "subject_tokens": None,
    }
    if services is not None:
        update["services"] = {name: ServiceEndpoint(url=url) for name, url in services.items()}
    return endpoints.model_copy(update=update)


# -- attacks (issue 16) ---------------------------------------------------------------------


def assert_attacks_refused(
    topology: Topology | str | Path, preset: str | None = None, *, at: float | None = None
) -> list[Any]:
    """Fail unless every attack token (``wiflab_lab.attacks``) against the topology's
    providers is refused; the message names each one that got through and the checks that let
    it in. Returns the results (``AttackResult``) for further assertions."""
    from mock_gcp.topology import Topology as Loaded
    from mock_gcp.topology import load_topology
    from wiflab_lab.attacks import render_text, run_attacks

    loaded = topology if isinstance(topology, Loaded) else load_topology(topology)
    clock = (lambda: at) if at is not None else time.time
    results = run_attacks(loaded, preset, clock=clock)
    through = [r for r in results if r.got_through]
    if through:
        raise AssertionError(
            f"{len(through)} attack(s) got through:\n" + render_text(through).rstrip()
        )
    return results
