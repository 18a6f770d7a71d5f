"""``wiflab deploy shared-google``: the Google side as one shared Cloud Run service.

The dry run against a golden file reviewed by hand; what a user sees for bad flags; the
service's entrypoint refusing to start as it must not; and the plan's own service settings
(its env vars and mounted secrets) started locally the way Cloud Run starts the image, with a
gcp config written for it driving the plugin's credentials through the whole chain.

After a deliberate change: WIFLAB_UPDATE_GOLDENS=1 pytest tests/deploy, then review the diff of
deploy/golden/shared-google.txt line by line before committing it.
"""

from __future__ import annotations

import difflib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy.commands import TargetFlags
from deploy.gcp_config import write_gcp_config
from deploy.runner import _made
from deploy.shared_google import StartError, gunicorn_argv
from deploy.shared_google_plan import (
    ADMIN_SECRET,
    KEYS_FILE,
    KEYS_SECRET,
    RUNTIME_ACCOUNT,
    SharedGoogle,
    shared_google_plan,
)
from deploy.shell import render
from deploy.steps import Command
from deploy.target import Target
from idp_server.app import create_app as create_idp
from idp_server.settings import IdpSettings
from mock_gcp.topology import load_topology
from tests.deploy.cases import GOLDEN_DIR, ROOT, commands, python_m, wiflab
from wiflab.cli import main
from wiflab_core import endpoints as endpoints_file
from wiflab_core.serving import ThreadedServer, wait_ready
from wiflab_lab.testing import ExternalAccounts, WifStack

EXAMPLE = "wif.yaml"
TARGET = Target("my-lab-project", "us-central1", image_tag="golden")
GOLDEN = GOLDEN_DIR / "shared-google.txt"
DRY_RUN = (
    "deploy", "shared-google", f"--topology={EXAMPLE}", "--project=my-lab-project",
    "--region=us-central1", "--image-tag=golden", "--dry-run",
)  # fmt: skip


def plan(shared: SharedGoogle | None = None):
    return shared_google_plan(
        load_topology(ROOT / EXAMPLE), TARGET, shared or SharedGoogle(), EXAMPLE
    )


def test_the_dry_run_matches_the_reviewed_golden() -> None:
    rendered = render(plan())
    if os.environ.get("WIFLAB_UPDATE_GOLDENS") == "1":
        GOLDEN.write_text(rendered, encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(expected.splitlines(keepends=True), rendered.splitlines(keepends=True))
    )
    assert rendered == expected, f"the dry run changed; review, then update the golden:\n{diff}"


def test_the_command_line_prints_the_golden_and_it_is_valid_bash(tmp_path: Path) -> None:
    result = wiflab(*DRY_RUN)
    assert result.returncode == 0, result.stderr
    assert result.stdout == GOLDEN.read_text(encoding="utf-8")
    script = tmp_path / "plan.sh"
    script.write_text(result.stdout)
    checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--max-instances=0", "--max-instances: 0 is not from max(1, --min-instances) to 1000"),
        ("--min-instances=-1", "--min-instances: -1 is not from 0 to 100"),
        ("--concurrency=5000", "--concurrency: 5000 is not from 1 to 1000"),
        ("--cpu=lots", "--cpu: 'lots' is not a CPU count"),
        ("--memory=512MB", "--memory: '512MB' is not a size such as 512Mi or 2Gi"),
        ("--ingress=public", "--ingress: 'public' is not one of all, internal"),
        ("--service=Google_Side", "--service: 'Google_Side' is not a Cloud Run service name"),
    ],
)
def test_a_bad_flag_is_named_and_nothing_runs(capsys, flag: str, message: str) -> None:
    assert main([*DRY_RUN, flag]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_the_runtime_account_may_read_the_two_secrets_and_nothing_else() -> None:
    runtime = f"serviceAccount:{RUNTIME_ACCOUNT}@my-lab-project.iam.gserviceaccount.com"
    grants = [c.argv for c in commands(plan()) if "add-iam-policy-binding" in c.argv]
    assert sorted((argv[1], argv[3]) for argv in grants) == [
        ("secrets", ADMIN_SECRET),
        ("secrets", KEYS_SECRET),
    ]
    for argv in grants:
        assert "--role=roles/secretmanager.secretAccessor" in argv
        assert f"--member={runtime}" in argv


def test_no_secret_reaches_the_script() -> None:
    """The key source and the admin secret are made by commands piped into gcloud."""
    rendered = render(plan())
    assert "BEGIN PRIVATE KEY" not in rendered and '"sealing"' not in rendered
    creates = [c for c in commands(plan()) if c.argv[:3] == ("gcloud", "secrets", "create")]
    assert [c.argv[3] for c in creates] == [KEYS_SECRET, ADMIN_SECRET]
    assert all(c.stdin is not None and "--data-file=-" in c.argv for c in creates)


# -- the entrypoint -----------------------------------------------------------------------


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(_made(_key_command(plan()).stdin))  # type: ignore[arg-type]
    return path


def start_env(tmp_path: Path, key_file: Path, **overrides: str) -> dict[str, str]:
    env = {
        "PORT": "8080",
        "WIFLAB_GOOGLE_ISSUER": "https://wiflab-google-1.us-central1.run.app",
        "WIFLAB_GOOGLE_KEYS": str(key_file),
        "WIFLAB_ADMIN_SECRET": "s3cret",
        "WIFLAB_TOPOLOGY": str(ROOT / EXAMPLE),
        "WIFLAB_STATE_DIR": str(tmp_path / "state"),
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v != "<unset>"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"WIFLAB_ADMIN_SECRET": "<unset>"},
            "WIFLAB_ADMIN_SECRET is required to listen beyond loopback (0.0.0.0)",
        ),
        ({"WIFLAB_ADMIN_SECRET": "  "}, "WIFLAB_ADMIN_SECRET is required"),
        ({"WIFLAB_GOOGLE_KEYS": "<unset>"}, "WIFLAB_GOOGLE_KEYS is required"),
        ({"WIFLAB_GOOGLE_KEYS": "/no/such/keys.json"}, "WIFLAB_GOOGLE_KEYS: /no/such/keys.json"),
        ({"PORT": "http"}, "PORT: 'http' is not a whole number from 1 to 65535"),
        ({"WIFLAB_GOOGLE_WORKERS": "0"}, "WIFLAB_GOOGLE_WORKERS: '0' is not a whole number"),
        ({"WIFLAB_GOOGLE_ISSUER": "<unset>"}, "WIFLAB_GOOGLE_ISSUER is required"),
        ({"WIFLAB_TOPOLOGY_INLINE": "pools: 3"}, "WIFLAB_TOPOLOGY and WIFLAB_TOPOLOGY_INLINE"),
        (
            {"WIFLAB_TOPOLOGY": "<unset>", "WIFLAB_TOPOLOGY_INLINE": "pools: 3"},
            "WIFLAB_TOPOLOGY_INLINE: ",
        ),
        ({"WIFLAB_JOURNAL_SIZE": "lots"}, "WIFLAB_JOURNAL_SIZE must be a whole number"),
    ],
    ids=[
        "no-admin-secret", "blank-admin-secret", "no-keys", "missing-keys", "bad-port",
        "no-workers", "no-issuer", "two-topologies", "bad-inline-topology", "bad-journal",
    ],
)  # fmt: skip
def test_the_entrypoint_refuses_to_start_naming_the_variable(
    tmp_path: Path, key_file: Path, overrides: dict[str, str], message: str
) -> None:
    env = {**os.environ, **start_env(tmp_path, key_file, **overrides)}
    for name, value in overrides.items():
        if value == "<unset>":
            env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "deploy.shared_google"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_on_loopback_it_starts_without_an_admin_secret(tmp_path: Path, key_file: Path) -> None:
    env = start_env(tmp_path, key_file, WIFLAB_BIND_HOST="127.0.0.1", WIFLAB_ADMIN_SECRET="")
    argv = gunicorn_argv(env)
    assert "--bind=127.0.0.1:8080" in argv
    assert env["WIFLAB_JWKS_CACHE"] == str(tmp_path / "state" / "jwks")
    assert env["WIFLAB_JOURNAL_FILE"] == str(tmp_path / "state" / "journal")


@settings(max_examples=80, deadline=None)
@given(
    values=st.dictionaries(
        st.sampled_from(
            [
                "PORT", "WIFLAB_BIND_HOST", "WIFLAB_GOOGLE_WORKERS", "WIFLAB_GOOGLE_THREADS",
                "WIFLAB_GOOGLE_ISSUER", "WIFLAB_TOPOLOGY_INLINE", "WIFLAB_ADMIN_SECRET",
                "WIFLAB_JOURNAL_SIZE", "WIFLAB_JOURNAL",
            ]
        ),
        st.text(max_size=30),
    )
)  # fmt: skip
def test_any_environment_is_started_or_refused_by_name(values: dict[str, str]) -> None:
    keys = ROOT / "tests" / "deploy" / "topologies"  # a directory: never a key file
    # A state dir under a file: nothing can be written there either.
    env = {"WIFLAB_GOOGLE_KEYS": str(keys), "WIFLAB_STATE_DIR": str(ROOT / EXAMPLE / "state")}
    env.update({k: v.replace("\0", "") for k, v in values.items()})
    with pytest.raises(StartError) as refused:
        gunicorn_argv(env)
    assert str(refused.value).split(":")[0].split(" ")[0].startswith(("WIFLAB_", "PORT"))


# -- the plan's service, started as Cloud Run starts it --------------------------------------


def _deploy_command(p) -> Command:
    (deploy,) = [c for c in commands(p) if c.argv[1:3] == ("run", "deploy")]
    return deploy


def _key_command(p) -> Command:
    (create,) = [c for c in commands(p) if c.argv[1:4] == ("secrets", "create", KEYS_SECRET)]
    return create


def _flag(argv: tuple[str, ...], name: str) -> dict[str, str]:
    """A gcloud dict flag (``^D^`` escapes included) as a dict."""
    (value,) = [a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")]
    delimiter = ","
    if value.startswith("^"):
        delimiter, value = value[1:].split("^", 1)
    return dict(item.split("=", 1) for item in value.split(delimiter))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def idp() -> Iterator[ThreadedServer]:
    server = ThreadedServer()
    topology = load_topology(ROOT / EXAMPLE)
    server.app = create_idp(
        IdpSettings(issuer=server.url, token_secret="job-secret", profiles=topology.idp.plain())
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def shared_side(tmp_path_factory: pytest.TempPathFactory, idp: ThreadedServer) -> Iterator[str]:
    """The plan's env vars and secrets, the image's entrypoint, PORT set: as Cloud Run runs it
    (on loopback, and trusting the job's IdP at its loopback URL)."""
    tmp = tmp_path_factory.mktemp("shared-google")
    p = plan()
    argv = _deploy_command(p).argv
    env = _flag(argv, "set-env-vars")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env["WIFLAB_GOOGLE_ISSUER"] = url  # the plan's is the run.app URL
    secrets = {}
    for name, secret in _flag(argv, "set-secrets").items():
        secrets[name] = secret.removesuffix(":latest")
    assert secrets == {"WIFLAB_ADMIN_SECRET": ADMIN_SECRET, KEYS_FILE: KEYS_SECRET}
    mounted = tmp / "secrets" / "keys.json"  # the secret's file, where the test may write
    mounted.parent.mkdir()
    mounted.write_text(_made(_key_command(p).stdin))  # type: ignore[arg-type]
    mounted.chmod(0o400)
    env["WIFLAB_GOOGLE_KEYS"] = str(mounted)
    env["WIFLAB_ADMIN_SECRET"] = "admin-from-secret-manager"
    env.update(
        PORT=str(port),
        WIFLAB_BIND_HOST="127.0.0.1",
        WIFLAB_STATE_DIR=str(tmp / "instance"),
        WIFLAB_IDP_ISSUER=idp.url,
    )
    entrypoint = [a.split("=", 1)[1] for a in argv if a.startswith(("--command=", "--args="))]
    command = [entrypoint[0], *entrypoint[1].split(",")]
    assert command == ["python", "-m", "deploy.shared_google"]
    process = subprocess.Popen([sys.executable, *command[1:]], cwd=ROOT, env={**os.environ, **env})
    try:
        wait_ready(f"{url}/healthz", 90, process)  # type: ignore[arg-type]
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def job_config(
    tmp_path_factory: pytest.TempPathFactory, shared_side: str, idp: ThreadedServer
) -> Path:
    """What a CI job writes: the gcp config with the shared side as Google's."""
    state = tmp_path_factory.mktemp("job")
    flags = TargetFlags("demo-project", "us-central1", ROOT / EXAMPLE, state_dir=state)
    urls = {"idp-on-cloud-run": idp.url, "federated-auth-cloud-run": "https://app.invalid"}
    path = write_gcp_config(
        load_topology(flags.topology),
        Target(flags.project, flags.region, state_dir=state),
        "123456789012",
        urls,
        shared_side,
    )
    os.environ["IDP_TOKEN_SECRET"] = "job-secret"
    try:
        assert main(["deploy", "tokens", f"--config={path}"]) == 0
    finally:
        del os.environ["IDP_TOKEN_SECRET"]
    return path


def test_the_job_config_names_the_shared_side(job_config: Path, shared_side: str) -> None:
    doc = json.loads(job_config.read_text())
    assert doc["sts"]["token_url"] == f"{shared_side}/v1/token"
    assert doc["iamcredentials"]["api_endpoint"] == shared_side
    assert doc["google_issuer"]["issuer"] == shared_side
    for path in doc["credentials"].values():
        config = json.loads(Path(path).read_text())
        assert config["token_url"] == f"{shared_side}/v1/token"
        impersonation = config.get("service_account_impersonation_url", shared_side)
        assert impersonation.startswith(shared_side)


def test_the_written_credentials_get_a_token_from_the_shared_side(job_config: Path) -> None:
    from google.auth import identity_pool
    from google.auth.transport.requests import Request

    written = json.loads(job_config.read_text())["credentials"]
    name = next(n for n in written if n.startswith("oidc-pool-run.") and n.count(".") == 2)
    credentials = identity_pool.Credentials.from_file(
        written[name], scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    credentials.refresh(Request())
    assert credentials.token.startswith("ya29.")


def test_the_plugin_runs_the_chain_against_the_shared_side(
    job_config: Path, shared_side: str, tmp_path: Path
) -> None:
    from google.auth.transport.requests import Request

    endpoints = endpoints_file.load(job_config)
    topology = load_topology(endpoints.topology_path(job_config.parent))
    stack = WifStack(endpoints, topology, token_secret="job-secret")
    accounts = ExternalAccounts(stack, tmp_path)
    credentials = accounts.credentials(
        "oidc-pool-run/oidc-provider-1", service_account="target-serviceaccount"
    )
    credentials.refresh(Request())
    assert credentials.token.startswith("ya29.")
    # The impersonated token is the shared side's: its tokeninfo names the account by its
    # unique id (wif.yaml's target-serviceaccount), as Google's does without the email scope.
    info = requests.get(
        f"{shared_side}/oauth2/v3/tokeninfo", params={"access_token": credentials.token}, timeout=10
    )
    assert info.status_code == 200, info.text
    assert info.json()["azp"] == "109454699983348371165"


def test_gcloud_parses_every_command_of_the_plan(tmp_path: Path) -> None:
    """As tests/deploy/test_gcloud_accepts_the_commands.py: offline, gcloud parses every flag
    and only then stops for want of an account."""
    import re

    from tests.deploy.real_gcloud import NO_ACCOUNT, gcloud_or_skip, run_gcloud

    gcloud = gcloud_or_skip()
    (tmp_path / "deploy").mkdir()
    build = "deploy/build-image.yaml"
    (tmp_path / build).write_text((ROOT / build).read_text())
    distinct = {c.argv[:4]: c for c in commands(plan()) if c.argv[0] == "gcloud"}
    refused = []
    for command in distinct.values():
        argv = [re.sub(r"\$\{[A-Z_]+\}", "123456789012", a) for a in command.argv]
        result = run_gcloud([gcloud, *argv[1:]], tmp_path / "gcloud-config", tmp_path)
        if NO_ACCOUNT not in result.stderr:
            refused.append(f"{' '.join(argv)[:200]}\n  -> {result.stderr.strip()[:300]}")
    assert len(distinct) >= 10
    assert not refused, "gcloud refused these before asking for an account:\n" + "\n".join(refused)


def test_write_config_names_a_google_url_it_cannot_use(tmp_path: Path, capsys) -> None:
    code = main(
        [
            "deploy", "write-config", f"--topology={ROOT / EXAMPLE}", "--project=my-lab",
            "--region=us-central1", f"--state-dir={tmp_path}", "--project-number=42",
            "--service-url=idp-on-cloud-run=https://x", "--google-url=ftp://shared",
        ]
    )  # fmt: skip
    assert code == 2
    assert "--google-url: 'ftp://shared' is not an http(s) URL" in capsys.readouterr().err


def test_a_key_source_is_made_for_named_accounts_only() -> None:
    bad = python_m("mock_gcp.key_source", "new", "--acount=x@y")
    assert bad.returncode == 2 and "usage:" in bad.stderr
    made = python_m("mock_gcp.key_source", "new", "--account=a@p.iam.gserviceaccount.com")
    assert made.returncode == 0
    assert list(json.loads(made.stdout)["service_accounts"]) == ["a@p.iam.gserviceaccount.com"]
