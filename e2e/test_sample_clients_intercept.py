"""The sample clients that name no endpoint at all (clients/), run against the stack in
intercept mode exactly as they run on Google Cloud: seed 001's Python client verbatim
(IAMCredentialsClient() on its gRPC transport, Application Default Credentials), Go
(x/oauth2's external account, impersonate, idtoken.Validate), Java (ComputeEngineCredentials,
ImpersonatedCredentials), Node (@google-cloud/iam-credentials on gRPC) and gcloud
(print-access-token, print-identity-token). Each gets only what `wiflab env` prints (the
intercept section's env), an intercept-mode config (Google's URLs) and the settings of
clients/README.md; each answer must be the /dump of the expected caller.

A client whose tool is missing is skipped with one reason, or fails when
WIFLAB_REQUIRE_CLIENTS=1 (CI, after .ci/clients-setup.sh).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from e2e.test_e2e_seed_002_metadata_clients import require
from e2e.test_sample_clients import CLIENTS, FEDERATED, REPO, SA, SERVICE
from wiflab_core.endpoints import Endpoints
from wiflab_lab.stack import Stack, StackOptions
from wiflab_lab.testing import WifStack

# The metadata server's account (the Java client's source credential).
VM_SA = "workload-runner@demo-project.iam.gserviceaccount.com"
# Google's URLs, as gcloud's create-cred-config writes them and the clients know them.
GOOGLE_STS = "https://sts.googleapis.com/v1/token"
GOOGLE_ISSUER = "https://accounts.google.com"
RUN_APP = re.compile(r"^https://federated-auth-cloud-run-[a-z0-9]+-[a-z]{2}\.a\.run\.app$")
GOPATH = Path("/usr/share/gocode")
GO_PACKAGES = {
    "golang-golang-x-oauth2-google-dev": GOPATH / "src/golang.org/x/oauth2/google",
    "golang-google-api-dev": GOPATH / "src/google.golang.org/api/impersonate",
}


def tools(*names: str) -> list[str]:
    return [name for name in names if shutil.which(name) is None]


def java_topology(directory: Path) -> Path:
    """The example topology, plus what the Java client's chain needs: the VM's account may mint
    oidc-federated's ID tokens (on Google Cloud: the same binding, see clients/README.md)."""
    document = yaml.safe_load((REPO / "wif.yaml").read_text())
    (target,) = (sa for sa in document["serviceAccounts"] if sa["email"] == SA)
    target["policy"]["bindings"].append(
        {
            "role": "roles/iam.serviceAccountOpenIdTokenCreator",
            "members": [f"serviceAccount:{VM_SA}"],
        }
    )
    path = directory / "wif.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def local_only(pytestconfig: pytest.Config) -> None:
    """On Google Cloud (--target=gcp) the same clients need no stack or proxy."""
    if pytestconfig.getoption("--target") != "local":
        pytest.skip(
            "intercept mode is the local stack's: run these clients as clients/README.md says"
        )


@pytest.fixture
def endpoints(pytestconfig: pytest.Config, wif_intercept: WifStack) -> Endpoints:
    """The plugin's intercept-mode stack (its variables are set for the test, too)."""
    local_only(pytestconfig)
    return wif_intercept.endpoints


@pytest.fixture(scope="module")
def java_stack(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """An intercept-mode stack of the Java client's own (java_topology), in the suite's
    --stack-mode."""
    local_only(pytestconfig)
    state = tmp_path_factory.mktemp("intercept")
    topology = java_topology(tmp_path_factory.mktemp("topology"))
    mode = pytestconfig.getoption("--stack-mode")
    options = StackOptions(topology, state, mode=mode, port_base=0, intercept=True)
    with Stack(options) as running:
        yield running


def service_url_of(endpoints: Endpoints) -> str:
    url = endpoints.services[SERVICE].url
    assert RUN_APP.match(url), url  # a realistic Cloud Run URL, not a loopback port
    return url


@pytest.fixture
def service_url(endpoints: Endpoints) -> str:
    return service_url_of(endpoints)


def settings(endpoints: Endpoints, home: Path) -> dict[str, str]:
    """What `eval "$(wiflab env)"` sets, the settings of clients/README.md, an empty home, and
    nothing of the caller's Google or gcloud setup. The config is the stack's file-sourced
    federated one: Google's STS URL, as create-cred-config writes it, and no
    service_account_impersonation_url (seed 001's direct federation)."""
    config = endpoints.credentials[FEDERATED]
    written = json.loads(Path(config).read_text())
    assert written["token_url"] == GOOGLE_STS
    assert "service_account_impersonation_url" not in written
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GOOGLE_", "CLOUDSDK_", "WIF_", "WIFLAB_", "GCE_", "GRPC_"))
        and name.lower() not in ("https_proxy", "http_proxy", "no_proxy", "grpc_proxy")
    }
    home.mkdir()
    return {
        **inherited,
        **endpoints.require_intercept().env,
        "HOME": str(home),
        "GOOGLE_APPLICATION_CREDENTIALS": config,
        "WIF_SERVICE_ACCOUNT": SA,
        "WIF_SERVICE_URL": service_url_of(endpoints),
    }


@pytest.fixture
def client_env(endpoints: Endpoints, tmp_path: Path) -> dict[str, str]:
    return settings(endpoints, tmp_path / "home")


def run(
    command: list[str], env: dict[str, str], cwd: Path = REPO, expect: int = 0
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == expect, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done


def service_answer(stdout: str, service_url: str) -> dict:
    """The JSON the client prints after its "the service's answer" line."""
    _, marker, answer = stdout.partition(f"== the service's answer (GET {service_url}/dump) ==\n")
    assert marker, stdout
    return json.loads(answer)


def assert_called_as(answer: dict, account: str, service_url: str) -> None:
    """What the service saw: a Google-signed ID token of the account, for the service's URL."""
    identity = answer["identity"]
    assert identity["verified"] is True
    assert identity["claims"]["email"] == account
    assert identity["claims"]["aud"] == service_url
    assert identity["claims"]["iss"] == GOOGLE_ISSUER


# -- 1. seed 001's Python client, as the seed writes it --------------------------------------

SEED_SETTINGS = re.compile(r"^(url|aud|service_account) = .*$", re.MULTILINE)


def edited_seed(directory: Path, service_url: str) -> Path:
    """seed001.py with the three values the seed tells its reader to edit, nothing else."""
    values = {"url": f"{service_url}/dump", "aud": service_url, "service_account": SA}
    source = (CLIENTS / "python" / "seed001.py").read_text()
    edited, count = SEED_SETTINGS.subn(lambda m: f"{m[1]} = {values[m[1]]!r}", source)
    assert count == 3, "seed001.py no longer assigns url, aud and service_account once each"
    path = directory / "seed001.py"
    path.write_text(edited)
    return path


def test_seed_001_python_client_verbatim(client_env, service_url, tmp_path):
    script = edited_seed(tmp_path, service_url)
    done = run([sys.executable, str(script)], client_env, cwd=tmp_path)
    token, status, *answer = done.stdout.splitlines()
    assert status == "200", done.stdout
    assert token.count(".") == 2  # the seed prints the ID token whole
    assert_called_as(json.loads("\n".join(answer)), SA, service_url)


# -- 2. Go -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def go_chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """clients/go/chain.go built once, from Debian's GOPATH packages only (no module proxy)."""
    missing = tools("go")
    missing += [package for package, path in GO_PACKAGES.items() if not path.is_dir()]
    require("Go", missing)
    directory = tmp_path_factory.mktemp("go")
    env = {
        **os.environ,
        "GOPATH": str(GOPATH),
        "GO111MODULE": "off",
        "GOFLAGS": "",
        "GOPROXY": "off",
        "GOCACHE": str(directory / "cache"),
    }
    binary = directory / "chain"
    run(["go", "build", "-o", str(binary), str(CLIENTS / "go" / "chain.go")], env)
    return binary


def test_go_external_account_impersonate_and_validate(go_chain, client_env, service_url):
    done = run([str(go_chain)], client_env)
    (validated,) = re.findall(r"^idtoken\.Validate: (.*)$", done.stdout, re.MULTILINE)
    assert json.loads(validated) == {"iss": GOOGLE_ISSUER, "aud": service_url, "email": SA}
    assert_called_as(service_answer(done.stdout, service_url), SA, service_url)


# -- 3. Java ---------------------------------------------------------------------------------


@pytest.fixture
def java_chain(java_stack: Stack, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """The Java chain's command line (proxy flags, the truststore) and its environment: a
    workload on a VM, so no GOOGLE_APPLICATION_CREDENTIALS, only the metadata server."""
    missing = tools("javac", "keytool")
    classpath = subprocess.run(
        ["bash", str(CLIENTS / "java" / "classpath.sh")], capture_output=True, text=True
    )
    if classpath.returncode != 0:
        missing.append("libgoogle-auth-java")
    require("Java", missing)
    env = {**settings(java_stack.endpoints, tmp_path / "home"), "TRUSTSTORE_DIR": str(tmp_path)}
    del env["GOOGLE_APPLICATION_CREDENTIALS"]
    flags = run(["bash", str(CLIENTS / "java" / "proxy-flags.sh")], env).stdout.split()
    command = ["java", *flags, f"-Duser.home={tmp_path}", "-cp", classpath.stdout.strip()]
    return [*command, str(CLIENTS / "java" / "Chain.java")], env


def test_java_compute_engine_then_impersonated_credentials(java_chain, java_stack):
    command, env = java_chain
    service_url = service_url_of(java_stack.endpoints)
    done = run(command, env)
    assert f"source: {VM_SA} (ComputeEngineCredentials)" in done.stdout.splitlines()
    assert_called_as(service_answer(done.stdout, service_url), SA, service_url)


# -- 4. Node on the default (gRPC) transport -------------------------------------------------


def require_node() -> None:
    missing = tools("node")
    if not (CLIENTS / "node" / "node_modules" / "@google-cloud" / "iam-credentials").is_dir():
        missing.append("clients/node/node_modules (npm ci)")
    require("Node", missing)


def test_node_iam_credentials_on_grpc(client_env, service_url):
    require_node()
    done = run(["node", str(CLIENTS / "node" / "default-transport.js")], client_env)
    assert "ID token from IAM Credentials (gRPC): " in done.stdout
    assert_called_as(service_answer(done.stdout, service_url), SA, service_url)


# -- 5. gcloud -------------------------------------------------------------------------------


def test_gcloud_print_access_and_identity_tokens(client_env, service_url):
    require("gcloud", tools("gcloud", "jq", "curl"))
    done = run(["bash", str(CLIENTS / "gcloud" / "identity-token.sh")], client_env)
    # gcloud names the account it logged in by asking STS whose token it is (introspection).
    principal = (
        "principal://iam.googleapis.com/projects/123456789012/locations/global/"
        "workloadIdentityPools/oidc-pool-run/subject/alice@domain.com"
    )
    assert principal in done.stdout.splitlines()
    assert_called_as(service_answer(done.stdout, service_url), SA, service_url)


# -- refusals: one line on stderr, Google's text, exit 1 --------------------------------------

# IAM Credentials' refusal when the caller may not mint the account's ID tokens.
GET_OPEN_ID_TOKEN_DENIED = (
    "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist)."
)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_go_refusal_is_google_text_on_one_line(go_chain, client_env):
    env = {**client_env, "WIF_SERVICE_ACCOUNT": VM_SA}  # alice may not act as it
    line = one_error_line(run([str(go_chain)], env, expect=1))
    assert line == f"error: IAM Credentials refused: PERMISSION_DENIED: {GET_OPEN_ID_TOKEN_DENIED}"


def test_node_grpc_refusal_is_google_text_on_one_line(client_env):
    require_node()
    env = {**client_env, "WIF_SERVICE_ACCOUNT": VM_SA}
    done = run(["node", str(CLIENTS / "node" / "default-transport.js")], env, expect=1)
    line = one_error_line(done)
    assert line == f"error: IAM Credentials refused: PERMISSION_DENIED: {GET_OPEN_ID_TOKEN_DENIED}"


def test_java_refusal_is_google_text_on_one_line(java_chain):
    command, env = java_chain
    # The VM's account has no role on this one.
    env = {
        **env,
        "WIF_SERVICE_ACCOUNT": "target-serviceaccount@demo-project.iam.gserviceaccount.com",
    }
    line = one_error_line(run(command, env, expect=1))
    assert line.startswith("error: IAM Credentials refused: ")
    assert line.endswith(f"403 trying to getIDToken: {GET_OPEN_ID_TOKEN_DENIED}")
