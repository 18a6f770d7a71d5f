"""The e2e suite's targets. Tests use the wiflab plugin's fixtures (wif_stack, mint_token,
external_account_credentials, wif_topology); this file decides what wif_stack is:

- ``--target=local`` (default): the stand-in on loopback, ``--stack-mode=threads`` (default)
  or ``processes`` (each part under gunicorn), with the example topology plus the providers
  only the negative cases need (e2e/lab_topology.py);
- ``--target=gcp``: real Google Cloud, from the endpoints file deploy/ writes
  (``--gcp-config PATH`` or ``WIFLAB_GCP_CONFIG``; the IdP's /token secret from
  ``IDP_TOKEN_SECRET``). Not configured: every test is skipped with one reason.

What a test needs beyond the example topology is declared with ``@pytest.mark.wif_requires``
and checked here, so a target that lacks it skips the test with a reason; tests hold no
target-specific branches.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from e2e.catalogue import UNVERIFIED, Case
from e2e.chain import Chain, Refusal
from e2e.lab_topology import write_extended_topology
from mock_gcp.topology import load_topology
from wiflab.pytest_plugin import topology_path
from wiflab_core import endpoints as endpoints_file
from wiflab_core import keys
from wiflab_core.endpoints import EndpointsError
from wiflab_lab.testing import ExternalAccounts, WifStack, local_stack

GCP_CONFIG_ENV = "WIFLAB_GCP_CONFIG"
IDP_TOKEN_SECRET_ENV = "IDP_TOKEN_SECRET"
OBSERVED_TEXT = "google_text"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wiflab-e2e", "wiflab end-to-end suite")
    group.addoption(
        "--target",
        choices=("local", "gcp"),
        default="local",
        help="where the chain runs: the local stand-in (default) or real Google Cloud",
    )
    group.addoption(
        "--stack-mode",
        choices=("threads", "processes"),
        default="threads",
        help="local target: serve every part in this process (default) or under gunicorn",
    )
    group.addoption(
        "--gcp-config",
        default=None,
        metavar="PATH",
        help=f"gcp target: the endpoints file deploy/ writes (default: ${GCP_CONFIG_ENV})",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "wif_requires(providers=(), accounts=(), metadata=False, idp_admin=False, "
        "in_process=False): "
        "what the test needs from the target beyond the example topology; skipped without it",
    )


@pytest.fixture(scope="session")
def forge_key() -> keys.SigningKey:
    """A key only the suite holds; the local topology uploads it to one provider."""
    return keys.generate("RS256")


@pytest.fixture(scope="session")
def wif_stack(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory, forge_key):
    if pytestconfig.getoption("--target") == "gcp":
        yield gcp_target(pytestconfig)
        return
    state = tmp_path_factory.mktemp("e2e-stack")
    topology = write_extended_topology(topology_path(pytestconfig), forge_key, state)
    # The default Google-side workers (the cores): they share the issuers' JWKS through the
    # state dir, so the key-rotation test's retired key is refused by whichever one answers.
    with local_stack(topology, state, pytestconfig.getoption("--stack-mode")) as stack:
        yield stack


def gcp_target(config: pytest.Config) -> WifStack:
    path = config.getoption("--gcp-config") or os.environ.get(GCP_CONFIG_ENV)
    if not path:
        pytest.skip(
            f"--target=gcp is not configured: pass --gcp-config PATH or set {GCP_CONFIG_ENV} "
            "to the endpoints file deploy/ writes"
        )
    try:
        endpoints = endpoints_file.load(path)
    except EndpointsError as exc:
        pytest.fail(f"--gcp-config: cannot use the endpoints file: {exc}", pytrace=False)
    # The topology deployed, as the endpoints file names it (relative to the file).
    topology = load_topology(endpoints.topology_path(Path(path).parent))
    return WifStack(endpoints, topology, token_secret=os.environ.get(IDP_TOKEN_SECRET_ENV))


def missing(stack: WifStack, requirements: dict[str, Any]) -> str | None:
    """Why the target cannot run a test with these requirements, or None."""
    where = f"the {stack.target} target"
    for provider in requirements.get("providers", ()):
        pool, _, provider_id = provider.partition("/")
        if stack.topology.provider(pool, provider_id) is None:
            return f"needs provider {provider}, which {where} does not have (e2e/lab_topology.py)"
    for account in requirements.get("accounts", ()):
        if stack.topology.service_account(stack.account(account)) is None:
            return f"needs service account {account}, which {where} does not have"
    if requirements.get("metadata") and stack.endpoints.metadata is None:
        return f"needs a metadata server, and {where} names none (endpoints metadata.host)"
    idp = stack.endpoints.idp
    if requirements.get("idp_admin") and (idp is None or not idp.admin_secret_file):
        return f"needs the IdP's admin secret to rotate keys, which {where} does not give"
    if requirements.get("in_process") and stack.backend is None:
        return f"needs the stand-in's internals, in this process (threads mode), not {where}"
    return None


@pytest.fixture(autouse=True)
def _target_requirements(request: pytest.FixtureRequest, wif_stack: WifStack) -> None:
    marker = request.node.get_closest_marker("wif_requires")
    reason = missing(wif_stack, marker.kwargs) if marker else None
    if reason:
        pytest.skip(reason)


@pytest.fixture
def chain(wif_stack: WifStack, tmp_path: Path, forge_key: keys.SigningKey) -> Chain:
    return Chain(wif_stack, ExternalAccounts(wif_stack, tmp_path), forge_key)


class Fidelity:
    """How closely a refusal must match: exactly, except an unverified text on real Google,
    which is recorded (the closing summary lists them) for the stand-in to learn from."""

    def __init__(self, target: str, node: pytest.Item):
        self._target = target
        self._node = node

    def check(self, case: Case, refusal: Refusal, facts: dict[str, Any]) -> None:
        expected = (case.status, case.code, case.expected_text(facts))
        if self._target == "gcp" and case.words == UNVERIFIED:
            self._node.user_properties.append((OBSERVED_TEXT, refusal.text))
            assert (refusal.status, refusal.code) == expected[:2]
            return
        assert (refusal.status, refusal.code, refusal.text) == expected


@pytest.fixture
def fidelity(wif_stack: WifStack, request: pytest.FixtureRequest) -> Fidelity:
    return Fidelity(wif_stack.target, request.node)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    observed = [
        (report.nodeid, value)
        for report in terminalreporter.stats.get("passed", [])
        for name, value in getattr(report, "user_properties", [])
        if name == OBSERVED_TEXT
    ]
    if observed:
        terminalreporter.section("texts Google returned where the stand-in's are unverified")
        for nodeid, text in observed:
            terminalreporter.write_line(f"{nodeid}: {text}")
