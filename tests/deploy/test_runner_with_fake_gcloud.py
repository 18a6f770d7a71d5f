"""Setup and teardown run for real against a fake gcloud on PATH (tests/deploy/fake_gcloud.py)
and a real IdP on loopback: what is created, in which order, what a second run changes (nothing),
and the gcp config the e2e suite then reads.

One lifecycle runs per session (setup, setup again, teardown, teardown again, setup again): the
tests read what each phase called and left.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import jwt
import pytest

from deploy.errors import DeployError
from deploy.runner import Runner
from deploy.setup_plan import setup_plan
from deploy.target import Target
from deploy.teardown_plan import teardown_plan
from idp_server.app import create_app as create_idp
from idp_server.settings import IdpSettings
from mock_gcp.topology import Topology, load_topology
from tests.deploy.cases import ROOT
from tests.deploy.fake_gcloud import PROJECT_NUMBER, READ_ONLY
from wiflab_core.serving import ThreadedServer

FAKE = Path(__file__).with_name("fake_gcloud.py")
EXAMPLE = str(ROOT / "wif.yaml")
TARGET = Target("my-lab-project", "us-central1", image_tag="test")
AUDIENCE = (
    f"//iam.googleapis.com/projects/{PROJECT_NUMBER}/locations/global/"
    "workloadIdentityPools/oidc-pool-run/providers/oidc-provider-1"
)
APP_URL = "http://127.0.0.1:9/never-called"
SA = "oidc-federated@my-lab-project.iam.gserviceaccount.com"


@dataclass(frozen=True)
class Phase:
    calls: list[list[str]]
    output: str
    state: dict

    @property
    def changes(self) -> list[list[str]]:
        """Calls that could change something on Google Cloud (not a describe or a read)."""
        return [c for c in self.calls if not READ_ONLY & set(c)]

    def index(self, *words: str) -> int:
        return next(i for i, c in enumerate(self.calls) if all(w in c for w in words))

    def call(self, *words: str) -> list[str]:
        return self.calls[self.index(*words)]


class Lab:
    """A fake gcloud on PATH, a real IdP behind the URL it reports, a work directory."""

    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch, idp_url: str):
        self.log = directory / "calls.jsonl"
        self.state = directory / "state.json"
        self.work = directory / "work"
        self.work.mkdir()
        bin_dir = directory / "bin"
        bin_dir.mkdir()
        script = bin_dir / "gcloud"
        # -I -S: the fake needs only the standard library, and starts 4x faster without site.
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -S "{FAKE}" "$@"\n')
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("FAKE_GCLOUD_STATE", str(self.state))
        monkeypatch.setenv("FAKE_GCLOUD_LOG", str(self.log))
        urls = {"idp-on-cloud-run": idp_url, "federated-auth-cloud-run": APP_URL}
        monkeypatch.setenv("FAKE_RUN_URLS", json.dumps(urls))

    def run(self, kind: str, topology: Topology) -> Phase:
        self.log.unlink(missing_ok=True)
        plan = {"setup": setup_plan, "teardown": teardown_plan}[kind](topology, TARGET, EXAMPLE)
        out = io.StringIO()
        try:
            Runner(cwd=self.work, out=out, sleep=lambda _: None).run(plan)
        finally:
            self.last_output = out.getvalue()
        calls = [json.loads(line) for line in self.log.read_text().splitlines()]
        return Phase(calls, out.getvalue(), json.loads(self.state.read_text()))


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_topology(EXAMPLE)


@pytest.fixture(scope="module")
def idp(topology: Topology) -> Iterator[ThreadedServer]:
    server = ThreadedServer()
    server.app = create_idp(IdpSettings(issuer=server.url, profiles=topology.idp.plain()))
    with server:
        yield server


def new_lab(factory: pytest.TempPathFactory, patch: pytest.MonkeyPatch, idp: ThreadedServer) -> Lab:
    return Lab(factory.mktemp("lab"), patch, idp.url)


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory, topology, idp) -> dict:
    """The phases, recorded once per session: pytest-xdist workers share the record."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = tmp_path_factory.getbasetemp()
    record = (base.parent if worker else base) / "wiflab-deploy-lifecycle.json"
    with open(record.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            record.write_text(json.dumps(_record(tmp_path_factory, topology, idp)))
    recorded = json.loads(record.read_text())
    phases: dict = {name: Phase(**phase) for name, phase in recorded["phases"].items()}
    return {**phases, "config": recorded["config"], "idp_url": recorded["idp_url"]}


def _record(factory: pytest.TempPathFactory, topology: Topology, idp: ThreadedServer) -> dict:
    phases: dict = {}
    with pytest.MonkeyPatch.context() as patch:
        lab = new_lab(factory, patch, idp)
        for name, kind in (
            ("setup", "setup"),
            ("setup again", "setup"),
            ("teardown", "teardown"),
            ("teardown again", "teardown"),
            ("setup after teardown", "setup"),
        ):
            phases[name] = asdict(lab.run(kind, topology))
            if name == "setup":
                config = _config_snapshot(lab.work / "wiflab-gcp")
    return {"phases": phases, "config": config, "idp_url": idp.url}


def _config_snapshot(directory: Path) -> dict:
    endpoints = json.loads((directory / "endpoints.json").read_text())
    config_path = Path(endpoints["credentials"]["oidc-pool-run.oidc-provider-1.file"])
    config = json.loads(config_path.read_text())
    token_file = Path(config["credential_source"]["file"])
    deployed = load_topology(endpoints["topology"])
    return {
        "endpoints": endpoints,
        "config": config,
        "token": token_file.read_text(),
        "token_mode": stat.S_IMODE(token_file.stat().st_mode),
        "deployed_audience": deployed.provider_audience("oidc-pool-run", "oidc-provider-1"),
    }


def test_setup_creates_everything_in_dependency_order(lifecycle) -> None:
    setup, idp_url = lifecycle["setup"], lifecycle["idp_url"]
    assert setup.index("create", "oidc-federated") < setup.index("add-iam-policy-binding", SA)
    assert setup.index("create", "wiflab-idp-runtime") < setup.index("deploy", "idp-on-cloud-run")
    assert setup.index("secrets", "create") < setup.index("deploy", "idp-on-cloud-run")
    assert setup.index("deploy", "idp-on-cloud-run") < setup.index("create-oidc")
    assert setup.index("create", "oidc-pool-run") < setup.index("create-oidc", "oidc-provider-1")
    # The provider trusts the IdP at the URL Cloud Run gave it; members name the real number.
    assert f"--issuer-uri={idp_url}" in setup.call("create-oidc", "oidc-provider-1")
    alice = (
        f"--member=principal://iam.googleapis.com/projects/{PROJECT_NUMBER}/locations/global/"
        "workloadIdentityPools/oidc-pool-run/subject/alice@domain.com"
    )
    assert alice in setup.call("add-iam-policy-binding", SA)
    # The IdP is pinned to its own URL as issuer once it has one.
    pin = setup.call("services", "update", "idp-on-cloud-run")
    assert f"--update-env-vars=IDP_ISSUER={idp_url}" in pin


def test_setup_keeps_the_generated_secrets_in_secret_manager_only(lifecycle) -> None:
    setup = lifecycle["setup"]
    key = setup.state["resources"]["secrets wiflab-idp-signing-key"]["data"]
    token_secret = setup.state["resources"]["secrets wiflab-idp-token-secret"]["data"]
    assert key.startswith("-----BEGIN PRIVATE KEY-----")
    assert len(token_secret) == 64 and int(token_secret, 16) >= 0
    assert token_secret not in setup.output and "PRIVATE KEY" not in setup.output
    assert all(token_secret not in arg for call in setup.calls for arg in call)


def test_setup_writes_the_gcp_config_with_fresh_subject_tokens(lifecycle) -> None:
    snapshot, idp_url = lifecycle["config"], lifecycle["idp_url"]
    endpoints = snapshot["endpoints"]
    assert endpoints["target"] == "gcp"
    assert endpoints["project"] == {"id": "my-lab-project", "number": PROJECT_NUMBER}
    assert endpoints["idp"]["issuer"] == idp_url
    assert endpoints["sts"]["token_url"] == "https://sts.googleapis.com/v1/token"
    assert endpoints["services"]["federated-auth-cloud-run"] == {"url": APP_URL}
    assert endpoints["providers"]["oidc-pool-run/oidc-provider-1"] == {"audience": AUDIENCE}
    assert SA in endpoints["serviceAccounts"]
    assert snapshot["config"]["audience"] == AUDIENCE
    claims = jwt.decode(snapshot["token"], options={"verify_signature": False})
    assert (claims["iss"], claims["aud"], claims["sub"]) == (idp_url, AUDIENCE, "alice@domain.com")
    assert snapshot["token_mode"] == 0o600
    assert snapshot["deployed_audience"] == AUDIENCE


def test_a_second_setup_changes_nothing(lifecycle) -> None:
    again = lifecycle["setup again"]
    # Enabling an enabled API is itself a no-op; nothing else is written.
    assert [c[:2] for c in again.changes] == [["services", "enable"]]
    assert again.state == lifecycle["setup"].state
    assert "nothing to do" in again.output


def test_teardown_removes_what_setup_made_in_reverse_order(lifecycle) -> None:
    teardown = lifecycle["teardown"]
    left = teardown.state["resources"]
    # Pools and providers stay DELETED for 30 days, as Google keeps them; nothing else is left.
    assert {k: v["state"] for k, v in left.items()} == {
        "iam workload-identity-pools oidc-pool-run": "DELETED",
        "iam workload-identity-pools providers oidc-provider-1 oidc-pool-run": "DELETED",
        "iam workload-identity-pools tenant-pool": "DELETED",
        "iam workload-identity-pools providers tenant-provider tenant-pool": "DELETED",
        "iam workload-identity-pools github-pool": "DELETED",
        "iam workload-identity-pools providers github github-pool": "DELETED",
        "iam workload-identity-pools gitlab-pool": "DELETED",
        "iam workload-identity-pools providers gitlab gitlab-pool": "DELETED",
        "iam workload-identity-pools kubernetes-pool": "DELETED",
        "iam workload-identity-pools providers prod-cluster kubernetes-pool": "DELETED",
        "iam workload-identity-pools aws-pool-1": "DELETED",
        "iam workload-identity-pools providers aws-provider-1 aws-pool-1": "DELETED",
    }
    assert teardown.state["bindings"] == []
    assert teardown.index("delete", "oidc-provider-1") < teardown.index("delete", "oidc-pool-run")
    assert teardown.index("remove-iam-policy-binding") < teardown.index("delete", SA)
    assert teardown.index("delete", "idp-on-cloud-run") < teardown.index("secrets", "delete")


def test_a_second_teardown_changes_nothing(lifecycle) -> None:
    assert lifecycle["teardown again"].changes == []


def test_setup_after_teardown_undeletes_pools_and_providers(lifecycle) -> None:
    again = lifecycle["setup after teardown"]
    undeleted = {c[c.index("undelete") + 1] for c in again.changes if "undelete" in c}
    assert undeleted == {
        "oidc-pool-run",
        "oidc-provider-1",
        "tenant-pool",
        "tenant-provider",
        "github-pool",
        "github",
        "gitlab-pool",
        "gitlab",
        "kubernetes-pool",
        "prod-cluster",
        "aws-pool-1",
        "aws-provider-1",
    }
    assert all(v["state"] == "ACTIVE" for v in again.state["resources"].values())


def test_an_iam_binding_not_visible_yet_is_tried_again(tmp_path_factory, topology, idp) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FAKE_FAIL_ONCE", "add-iam-policy-binding")
        setup = new_lab(tmp_path_factory, patch, idp).run("setup", topology)
    assert "IAM may lag: again in" in setup.output
    assert len([c for c in setup.calls if "add-iam-policy-binding" in c]) == 21


def test_a_failed_command_stops_the_run_and_says_which(tmp_path_factory, topology, idp) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FAKE_FAIL_ONCE", "create-oidc")
        lab = new_lab(tmp_path_factory, patch, idp)
        with pytest.raises(DeployError) as failure:
            lab.run("setup", topology)
    assert "providers create-oidc oidc-provider-1" in failure.value.message
    assert "exit 1" in failure.value.message
    last = json.loads(lab.log.read_text().splitlines()[-1])
    assert last[:4] == ["iam", "workload-identity-pools", "providers", "create-oidc"]
