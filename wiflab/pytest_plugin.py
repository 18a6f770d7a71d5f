"""wiflab's pytest plugin: test your own Workload Identity Federation code the way moto lets you
test AWS code, against the local stand-in of Google's side, with the official client libraries.

Registered through the ``pytest11`` entry point, so installing wiflab is enough. Fixtures:

- ``wif_stack`` (session): the whole chain on loopback in threads mode, ephemeral ports, state
  in a temp dir (one per xdist worker). ``.endpoints`` (``wiflab_core.endpoints.Endpoints``),
  ``.topology``, ``.audience(provider)``, ``.account(name)``, ``.service_url(name)``,
  ``.mint(...)``, ``.iam_client(credentials)``, ``.idp`` (the IdP's client, key rotation).
- ``mint_token(profile=None, *, provider=None, alg=None, kid=None, **claims)``: a subject token
  signed by the lab IdP; the profile's claims and the provider's audience, then your claims
  (a claim given as None is left out).
- ``external_account_info(provider=None, source="file"|"url"|"executable",
  service_account=None, *, profile=None, subject_token=None, **claims)``: an external-account
  config (a dict) whose subject token the IdP mints (or yours: ``subject_token=``);
  with ``service_account`` it impersonates that account.
- ``external_account_credentials(..., scopes=(CLOUD_PLATFORM,))``: the google-auth credential
  (for ``executable``, GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1 is set for the test).
- ``wif_topology``: apply another topology (pools, providers, bindings) for one test, without
  restarting (over HTTP, ``/wiflab/v1/topology``: both stack modes); the previous one is
  restored when the test ends.
- ``wif_intercept``: a stack in intercept mode (``wiflab up --intercept``), with its variables
  (HTTPS_PROXY, the CA bundles, NO_PROXY, ...) set for the test and the subprocesses it starts,
  and undone after it: unchanged clients (Google's default URLs) reach the stand-in. With
  ``--wif-intercept``, ``wif_stack`` itself runs in intercept mode and the variables are set for
  the whole session.

- ``wif_project`` (session, with ``--wif-project PATH`` or ini ``wif_project``): your suite's
  own project in a shared stand-in, put at session start (``PUT
  /wiflab/v1/projects/NUMBER/topology``, its project secret kept) and deleted at the end, so
  parallel CI jobs each see only their own (``wiflab_lab.testing.WifProject``: ``.journal()``
  is the project's journal). The stand-in is ``--wif-shared ENDPOINTS`` (the endpoints.json of
  a running ``wiflab up``; ``WIFLAB_ADMIN_SECRET`` creates the project beyond loopback), else
  the session's ``wif_stack``. ``wif_project_stack``: that stand-in as the project's callers
  see it (its audiences, accounts), for ``ExternalAccounts`` and the rest.

The topology is ``--wif-topology PATH`` (or ini ``wif_topology``), else wiflab's example;
``--wif-topology`` given again adds a project that wif_stack's Google side serves beside it.
Only stdlib and pytest are imported here at load time: the plugin loads in every pytest run of
an environment where wiflab is installed, and google-auth is needed only by the fixtures that
build credentials.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wiflab_lab.testing import (
    ALLOW_EXECUTABLES,
    ExternalAccounts,
    TopologyOverride,
    WifProject,
    WifStack,
    example_topology,
    intercept_environment,
    local_stack,
    topology_url,
)

# -- pytest hooks and fixtures ------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wiflab", "wiflab: Workload Identity Federation stand-in")
    _path_option(
        group,
        "--wif-topology",
        "topology YAML for the wif_stack fixture (default: ini wif_topology, else "
        "wiflab's example wif.yaml); repeat it to serve more projects, each under its own "
        "project number (the first is the default one)",
        repeat=True,
    )
    parser.addini("wif_topology", "topology YAML for the wif_stack fixture", default="")
    group.addoption(
        "--wif-intercept",
        action="store_true",
        default=False,
        help="run wif_stack in intercept mode and send the session's clients (and their "
        "subprocesses) through its proxy for Google's hosts",
    )
    _path_option(
        group,
        "--wif-project",
        "your project's topology YAML: put into the stand-in for the session (fixture "
        "wif_project) and deleted at its end",
    )
    parser.addini("wif_project", "topology YAML of the wif_project fixture", default="")
    _path_option(
        group,
        "--wif-shared",
        "the endpoints.json of a shared, running stand-in for wif_project (default: the "
        "session's wif_stack)",
        metavar="ENDPOINTS",
    )


def _path_option(
    group: Any, flag: str, help_text: str, metavar: str = "PATH", *, repeat: bool = False
) -> None:
    action = "append" if repeat else "store"
    group.addoption(flag, default=None, metavar=metavar, help=help_text, action=action)


def _ini_path(config: pytest.Config, option: str, ini: str) -> Path | None:
    given = config.getoption(option)
    if given:
        return Path(given[0] if isinstance(given, list) else given)
    value = config.getini(ini)
    if value:
        return (config.inipath.parent if config.inipath else Path.cwd()) / value
    return None


def topology_path(config: pytest.Config) -> Path:
    """--wif-topology, else ini wif_topology (relative to the ini file), else the example."""
    given = _ini_path(config, "--wif-topology", "wif_topology")
    if given is not None:
        return given
    path = example_topology()
    if not path.is_file():
        raise pytest.UsageError(
            f"wiflab's example topology is not at {path}: pass --wif-topology PATH "
            "(or set wif_topology in your pytest ini)"
        )
    return path


def more_topology_paths(config: pytest.Config) -> tuple[Path, ...]:
    """--wif-topology given more than once: the projects served beside the first."""
    return tuple(Path(p) for p in (config.getoption("--wif-topology") or [])[1:])


@pytest.fixture(scope="session")
def wif_stack(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory):
    """The local chain in threads mode, started once per session (per xdist worker)."""
    path = topology_path(pytestconfig)
    intercept = bool(pytestconfig.getoption("--wif-intercept"))
    state = tmp_path_factory.mktemp("wiflab-stack")
    more = more_topology_paths(pytestconfig)
    with local_stack(path, state, intercept=intercept, more_topologies=more) as stack:
        if intercept:
            with intercept_environment(stack.endpoints):
                yield stack
        else:
            yield stack


@pytest.fixture(scope="session")
def _wif_intercept_stack(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory):
    """An intercept-mode stack of its own (mode: the suite's --stack-mode, if it has one)."""
    mode = pytestconfig.getoption("--stack-mode", default="threads")
    path = topology_path(pytestconfig)
    state = tmp_path_factory.mktemp("wiflab-intercept")
    with local_stack(path, state, mode, intercept=True) as stack:
        yield stack


@pytest.fixture
def wif_intercept(
    request: pytest.FixtureRequest, pytestconfig: pytest.Config
) -> Iterator[WifStack]:
    """A stack in intercept mode, its variables set for this test (and undone after it)."""
    stack: WifStack | None = None
    if pytestconfig.getoption("--wif-intercept"):
        stack = request.getfixturevalue("wif_stack")
    if stack is None or stack.endpoints.intercept is None:  # a suite's own wif_stack
        stack = request.getfixturevalue("_wif_intercept_stack")
    with intercept_environment(stack.endpoints):
        yield stack


@pytest.fixture
def mint_token(wif_stack: WifStack) -> Callable[..., str]:
    return wif_stack.mint


@pytest.fixture
def _wif_external_accounts(wif_stack: WifStack, tmp_path: Path) -> ExternalAccounts:
    return ExternalAccounts(wif_stack, tmp_path)


@pytest.fixture
def external_account_info(_wif_external_accounts: ExternalAccounts) -> Callable[..., dict]:
    return _wif_external_accounts.info


@pytest.fixture
def external_account_credentials(
    _wif_external_accounts: ExternalAccounts, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Any]:
    def build(
        provider: str | None = None,
        source: str = "file",
        service_account: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if source == "executable":
            # google-auth runs executables only when the environment allows it.
            monkeypatch.setenv(ALLOW_EXECUTABLES, "1")
        return _wif_external_accounts.credentials(provider, source, service_account, **kwargs)

    return build


@pytest.fixture
def wif_topology(wif_stack: WifStack) -> Iterator[TopologyOverride]:
    if wif_stack.target != "local":
        pytest.skip(
            "wif_topology applies a topology inside the local stand-in (PUT "
            f"/wiflab/v1/topology), not target={wif_stack.target}"
        )
    override = TopologyOverride(topology_url(wif_stack.endpoints))
    yield override
    override.restore()


@pytest.fixture(scope="session")
def _wif_shared_stack(request: pytest.FixtureRequest) -> WifStack:
    """The stand-in wif_project lives in: --wif-shared's, else the session's wif_stack."""
    shared = request.config.getoption("--wif-shared")
    if not shared:
        stack: WifStack = request.getfixturevalue("wif_stack")
        return stack
    from mock_gcp.topology import load_topology
    from wiflab_core import endpoints as endpoints_file

    endpoints = endpoints_file.load(shared)
    return WifStack(endpoints, load_topology(endpoints.topology_path(Path(shared).parent)))


@pytest.fixture(scope="session")
def wif_project(request: pytest.FixtureRequest) -> Iterator[WifProject]:
    """Your project (--wif-project) in the stand-in for this session, deleted at its end."""
    path = _ini_path(request.config, "--wif-project", "wif_project")
    if path is None:
        pytest.skip("wif_project needs your project's topology: --wif-project PATH")
    stack: WifStack = request.getfixturevalue("_wif_shared_stack")
    project = WifProject(
        stack.endpoints.iamcredentials.api_endpoint,
        path,
        admin_secret=os.environ.get("WIFLAB_ADMIN_SECRET") or None,
    )
    with project:
        yield project


@pytest.fixture(scope="session")
def wif_project_stack(wif_project: WifProject, _wif_shared_stack: WifStack) -> WifStack:
    """The stand-in as your project's callers see it: audiences and accounts of your project."""
    return wif_project.stack(_wif_shared_stack)


@pytest.fixture(scope="session", autouse=True)
def _wif_project_session(request: pytest.FixtureRequest) -> None:
    """With --wif-project, the project is put when the session starts (not when a test first
    asks for it), so a suite that never names the fixture still owns its project."""
    if _ini_path(request.config, "--wif-project", "wif_project") is not None:
        request.getfixturevalue("wif_project")
