"""``wiflab deploy``: what a user sees for a topology or flag deploy cannot use (exit 2, the
field named, nothing run), and the subject-token refresh against a guarded IdP."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import jwt
import pytest
import yaml

from deploy.gcp_config import write_gcp_config
from deploy.target import Target
from idp_server.app import create_app as create_idp
from idp_server.settings import IdpSettings
from mock_gcp.topology import load_topology
from tests.deploy.cases import ROOT
from wiflab.cli import main
from wiflab_core.serving import ThreadedServer

EXAMPLE = ROOT / "wif.yaml"


def deploy(*args: str) -> int:
    return main(["deploy", *args])


def variant(tmp_path: Path, change) -> Path:
    """wif.yaml with one change made to its document."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    change(doc)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def setup_dry_run(topology: Path, *extra: str) -> int:
    return deploy(
        "setup", f"--topology={topology}", "--project=my-lab", "--region=us-central1", "--dry-run",
        *extra,
    )  # fmt: skip


def test_a_bad_project_id_is_refused_before_anything_runs(capsys) -> None:
    code = deploy("setup", "--project=My_Project", "--region=us-central1", "--dry-run")
    assert code == 2
    assert "--project: 'My_Project' is not a project id" in capsys.readouterr().err


def test_a_topology_error_names_its_path(tmp_path, capsys) -> None:
    def typo(doc):
        doc["pools"][0]["providers"][0]["attributeMaping"] = {}

    assert setup_dry_run(variant(tmp_path, typo)) == 2
    assert "pools[0].providers[0].attributeMaping: unknown key" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda doc: doc["services"][1].update(allowUnauthenticated=False),
            "services[1].allowUnauthenticated: the IdP must be public",
        ),
        (
            lambda doc: doc["services"].pop(1),
            "pools[0].providers[0].oidc.issuerUri: no issuerUri and no idp_server service",
        ),
        (
            lambda doc: doc["services"][0].update(app="some_app"),
            "services[0].app: must be one of protected_app, idp_server, not 'some_app'",
        ),
        (
            lambda doc: doc["services"].append(
                {"name": "second-idp", "app": "idp_server", "allowUnauthenticated": True}
            ),
            "services[2]: one idp_server service per project",
        ),
        (
            lambda doc: doc["serviceAccounts"].append(
                {"email": "robot-1@other-project.iam.gserviceaccount.com"}
            ),
            "serviceAccounts[6].email: robot-1@other-project.iam.gserviceaccount.com is not",
        ),
    ],
    ids=["private-idp", "no-issuer", "unknown-app", "two-idps", "foreign-account"],
)
def test_a_topology_deploy_cannot_serve_is_refused(tmp_path, capsys, change, field) -> None:
    assert setup_dry_run(variant(tmp_path, change)) == 2
    assert field in capsys.readouterr().err


def test_a_rename_must_name_a_pool_of_the_topology(capsys) -> None:
    assert setup_dry_run(EXAMPLE, "--pool-id=no-such-pool=new-pool") == 2
    assert "--pool-id: the topology has no pool 'no-such-pool'" in capsys.readouterr().err


def test_renamed_pools_reach_every_member_and_audience(capsys) -> None:
    renames = (
        "--pool-id=oidc-pool-run=lab-2",
        "--provider-id=oidc-pool-run/oidc-provider-1=prov-2",
    )
    assert setup_dry_run(EXAMPLE, *renames) == 0
    # Only write-config hears the old ids again (to name the renames in the deployed topology).
    lines = capsys.readouterr().out.splitlines()
    script = "\n".join(line for line in lines if not line.startswith("wiflab deploy write-config"))
    assert "oidc-pool-run" not in script and "oidc-provider-1" not in script
    assert "workloadIdentityPools/lab-2/subject/alice@domain.com" in script
    assert "providers create-oidc prov-2" in script
    # Nothing of the topology's own project is left: its id and number are the target's.
    assert "demo-project" not in script and "123456789012" not in script


@pytest.fixture
def guarded_idp():
    topology = load_topology(EXAMPLE)
    server = ThreadedServer()
    server.app = create_idp(
        IdpSettings(issuer=server.url, token_secret="right-secret", profiles=topology.idp.plain())
    )
    with server:
        yield server


@pytest.fixture
def gcp_config(tmp_path, guarded_idp) -> Path:
    urls = {"idp-on-cloud-run": guarded_idp.url, "federated-auth-cloud-run": "https://app.run"}
    target = Target("my-lab-project", "us-central1", state_dir=tmp_path / "state")
    return write_gcp_config(load_topology(EXAMPLE), target, "987654321098", urls)


def test_tokens_without_the_secret_says_where_it_is(gcp_config, capsys, monkeypatch) -> None:
    monkeypatch.delenv("IDP_TOKEN_SECRET", raising=False)
    assert deploy("tokens", f"--config={gcp_config}") == 2
    err = capsys.readouterr().err
    assert "IDP_TOKEN_SECRET is not set" in err
    assert "gcloud secrets versions access latest --secret=wiflab-idp-token-secret" in err


def test_tokens_with_a_wrong_secret_is_refused_by_the_idp(gcp_config, capsys, monkeypatch) -> None:
    monkeypatch.setenv("IDP_TOKEN_SECRET", "wrong-secret")
    assert deploy("tokens", f"--config={gcp_config}") == 1
    err = capsys.readouterr().err
    assert "the IdP refused" in err and "401" in err
    assert "wrong-secret" not in err


def test_tokens_mints_each_subject_token_owner_only(gcp_config, guarded_idp, monkeypatch) -> None:
    monkeypatch.setenv("IDP_TOKEN_SECRET", "right-secret")
    assert deploy("tokens", f"--config={gcp_config}") == 0
    entries = json.loads(gcp_config.read_text())["subject_tokens"]
    assert {e["profile"] for e in entries} == {"alice", "acme-project"}
    for entry in entries:
        token = Path(entry["file"])
        claims = jwt.decode(token.read_text(), options={"verify_signature": False})
        assert (claims["iss"], claims["aud"]) == (guarded_idp.url, entry["audience"])
        assert stat.S_IMODE(token.stat().st_mode) == 0o600


def test_write_config_wants_a_project_number(tmp_path, capsys) -> None:
    code = deploy(
        "write-config", f"--topology={EXAMPLE}", "--project=my-lab", "--region=us-central1",
        f"--state-dir={tmp_path}", "--project-number=my-lab", "--service-url=idp-on-cloud-run=https://x",
    )  # fmt: skip
    assert code == 2
    assert "--project-number: must be all digits" in capsys.readouterr().err


def test_setup_outside_the_checkout_stops_before_any_command(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # Cloud Build would upload this directory instead of the code
    monkeypatch.setenv("PATH", str(tmp_path))  # and no gcloud: nothing may have been tried
    code = deploy("setup", f"--topology={EXAMPLE}", "--project=my-lab", "--region=us-central1")
    assert code == 2
    assert "run setup from the repository root" in capsys.readouterr().err
