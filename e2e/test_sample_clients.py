"""The sample clients (clients/), each run as a workshop participant runs it, against the local
stack: only the settings of clients/README.md in the environment, the answer on stdout, one
error line on stderr.

A client whose tool is missing (node and its packages, curl and jq, gcloud) is skipped, unless
WIFLAB_REQUIRE_CLIENTS=1 (CI, after .ci/clients-setup.sh): then it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from wiflab_core.endpoints import Endpoints
from wiflab_lab.stack import Stack, StackOptions

REPO = Path(__file__).resolve().parents[1]
CLIENTS = REPO / "clients"
SA = "oidc-federated@demo-project.iam.gserviceaccount.com"
# alice may mint its ID tokens (Token Creator), but it has no run.invoker on the service.
NO_INVOKER_SA = "target-serviceaccount@demo-project.iam.gserviceaccount.com"
# Nobody in the lab's pool may act as it.
UNREACHABLE_SA = "workload-runner@demo-project.iam.gserviceaccount.com"
SERVICE = "federated-auth-cloud-run"
FEDERATED = "oidc-pool-run.oidc-provider-1.file"
IMPERSONATED = f"{FEDERATED}.oidc-federated"

REFUSED_EXCHANGE = (
    "error: STS refused the token exchange: unauthorized_client: The given credential is "
    "rejected by the attribute condition. Check the provider's attribute condition and mapping"
)
NO_INVOKER = (
    "error: the service refused the call: 403 Your client does not have permission to get URL "
    f"/dump from this server. Check that {NO_INVOKER_SA} holds roles/run.invoker on the service."
)
# Whole tokens, usable by whoever reads the output: a JWT whose signature Cloud Run has not
# removed, or a Google access token (clients print 20 characters of each).
USABLE_TOKEN = re.compile(
    r"eyJ[\w-]+\.eyJ[\w-]+\.(?!SIGNATURE_REMOVED_BY_GOOGLE)[\w-]{16,}|ya29\.[\w.-]{40,}"
)

COMMANDS = {
    "python": [sys.executable, str(CLIENTS / "python" / "main.py")],
    "node": ["node", str(CLIENTS / "node" / "index.js")],
    "shell": ["bash", str(CLIENTS / "shell" / "chain.sh")],
    "gcloud": ["bash", str(CLIENTS / "gcloud" / "chain.sh")],
}
TOOLS = {
    "python": [],
    "node": ["node"],
    "shell": ["curl", "jq"],
    "gcloud": ["gcloud", "jq", "curl"],
}


def require_tools(client: str) -> None:
    missing = [tool for tool in TOOLS[client] if shutil.which(tool) is None]
    if (
        client == "node"
        and not (CLIENTS / "node" / "node_modules" / "google-auth-library").is_dir()
    ):
        missing.append("clients/node/node_modules (npm ci)")
    if not missing:
        return
    reason = f"the {client} client needs {', '.join(missing)}: run .ci/clients-setup.sh"
    if os.environ.get("WIFLAB_REQUIRE_CLIENTS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("stack")
    with Stack(StackOptions(REPO / "wif.yaml", state, mode="threads", port_base=0)) as running:
        yield running


@pytest.fixture(scope="module")
def endpoints(stack: Stack) -> Endpoints:
    return stack.endpoints


@pytest.fixture(scope="module")
def bob_configs(endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The stack's federated and impersonated configs, reading bob's subject token instead:
    bob is no admin, so the provider's condition refuses him."""
    audience = endpoints.providers["oidc-pool-run/oidc-provider-1"].audience
    response = requests.get(
        endpoints.require_idp().profile_url.format(profile="bob"),
        params={"aud": audience},
        timeout=10,
    )
    response.raise_for_status()
    directory = tmp_path_factory.mktemp("bob")
    token = directory / "bob.jwt"
    token.write_text(response.json()["id_token"])
    configs = {}
    for name in (FEDERATED, IMPERSONATED):
        config = json.loads(Path(endpoints.credentials[name]).read_text())
        config["credential_source"]["file"] = str(token)
        configs[name] = directory / f"{name}.json"
        configs[name].write_text(json.dumps(config))
    return configs


@pytest.fixture
def client_env(stack: Stack, tmp_path: Path) -> Callable[..., dict[str, str]]:
    """The settings of clients/README.md, and nothing of the caller's Google or gcloud setup."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GOOGLE_", "CLOUDSDK_", "WIF_", "WIFLAB_", "GCE_"))
    }

    def settings(config: str | Path, account: str = SA) -> dict[str, str]:
        return {
            **inherited,
            "GOOGLE_APPLICATION_CREDENTIALS": str(config),
            "WIF_SERVICE_ACCOUNT": account,
            "WIF_SERVICE_URL": stack.endpoints.services[SERVICE].url,
            "WIFLAB_ENDPOINTS": str(stack.endpoints_path),
            # gcloud's state goes to a throwaway folder, never the user's.
            "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
            "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        }

    return settings


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


def service_answer(stdout: str, endpoints: Endpoints) -> dict:
    """The JSON the client prints after its "the service's answer" line."""
    url = endpoints.services[SERVICE].url
    _, marker, answer = stdout.partition(f"== the service's answer (GET {url}/dump) ==\n")
    assert marker, stdout
    return json.loads(answer)


def error_lines(stderr: str) -> list[str]:
    return stderr.strip().splitlines()


@pytest.mark.parametrize("source", ["file", "url"])
@pytest.mark.parametrize("client", COMMANDS)
def test_client_calls_the_service_as_the_account(client, source, endpoints, client_env):
    """The stack's federated configs, their subject token read from a file or the IdP's URL."""
    require_tools(client)
    env = client_env(endpoints.credentials[f"oidc-pool-run.oidc-provider-1.{source}"])
    done = run(COMMANDS[client], env)
    assert done.returncode == 0, done.stderr
    identity = service_answer(done.stdout, endpoints)["identity"]
    assert identity["claims"]["email"] == SA
    assert identity["claims"]["aud"] == endpoints.services[SERVICE].url
    assert identity["verified"] is True
    # Tokens are shown shortened; the only whole one is the service's echo, signature removed.
    assert not USABLE_TOKEN.search(done.stdout)


@pytest.mark.parametrize("client", COMMANDS)
def test_refused_exchange_is_one_line_and_a_failure(client, endpoints, bob_configs, client_env):
    require_tools(client)
    done = run(COMMANDS[client], client_env(bob_configs[FEDERATED]))
    assert done.returncode == 1
    lines = error_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(REFUSED_EXCHANGE)


@pytest.mark.parametrize("client", COMMANDS)
def test_service_refusal_is_one_line_and_a_failure(client, endpoints, client_env):
    require_tools(client)
    env = client_env(endpoints.credentials[FEDERATED], NO_INVOKER_SA)
    done = run(COMMANDS[client], env)
    assert done.returncode == 1
    assert error_lines(done.stderr) == [NO_INVOKER]


@pytest.mark.parametrize("client", COMMANDS)
def test_iam_refusal_names_the_missing_permission(client, endpoints, client_env):
    require_tools(client)
    env = client_env(endpoints.credentials[FEDERATED], UNREACHABLE_SA)
    done = run(COMMANDS[client], env)
    assert done.returncode == 1
    lines = error_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    # gcloud impersonates first (generateAccessToken); the others ask for the ID token directly.
    permission = "getAccessToken" if client == "gcloud" else "getOpenIdToken"
    assert lines[0] == (
        f"error: IAM Credentials refused: PERMISSION_DENIED: Permission "
        f"'iam.serviceAccounts.{permission}' denied on resource (or it may not exist). Check "
        f"that the federated principal holds roles/iam.workloadIdentityUser on {UNREACHABLE_SA}."
    )


def test_missing_setting_is_named(endpoints, client_env):
    env = client_env(endpoints.credentials[FEDERATED])
    del env["WIF_SERVICE_URL"]
    done = run(COMMANDS["python"], env)
    assert done.returncode == 1
    assert error_lines(done.stderr) == [
        "error: set WIF_SERVICE_URL (the protected service's URL); see clients/README.md"
    ]


# -- the impersonated Python variant -----------------------------------------------------------

IMPERSONATED_CLIENT = [sys.executable, str(CLIENTS / "python" / "impersonated.py")]


def test_impersonated_variant_gets_the_accounts_access_token(endpoints, client_env):
    done = run(IMPERSONATED_CLIENT, client_env(endpoints.credentials[IMPERSONATED]))
    assert done.returncode == 0, done.stderr
    _, marker, answer = done.stdout.partition("== tokeninfo's answer ==\n")
    assert marker, done.stdout
    info = json.loads(answer)
    assert info["email"] == SA
    assert "https://www.googleapis.com/auth/cloud-platform" in info["scope"].split()
    assert f"access token for {SA}: ya29." in done.stdout
    assert not USABLE_TOKEN.search(done.stdout)


def test_impersonated_variant_reports_a_refused_exchange(endpoints, bob_configs, client_env):
    done = run(IMPERSONATED_CLIENT, client_env(bob_configs[IMPERSONATED]))
    assert done.returncode == 1
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and lines[0].startswith(REFUSED_EXCHANGE), done.stderr


def test_impersonated_variant_reports_a_refused_impersonation(endpoints, tmp_path, client_env):
    config = json.loads(Path(endpoints.credentials[IMPERSONATED]).read_text())
    config["service_account_impersonation_url"] = config[
        "service_account_impersonation_url"
    ].replace(SA, UNREACHABLE_SA)
    path = tmp_path / "unreachable.json"
    path.write_text(json.dumps(config))
    done = run(IMPERSONATED_CLIENT, client_env(path))
    assert done.returncode == 1
    assert error_lines(done.stderr) == [
        f"error: IAM Credentials refused to impersonate {UNREACHABLE_SA}: PERMISSION_DENIED: "
        "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not "
        f"exist). Check that the federated principal holds roles/iam.workloadIdentityUser on "
        f"{UNREACHABLE_SA}."
    ]


# -- gcloud: the steps that cannot be pointed at the stack ------------------------------------


def gcloud(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run(["gcloud", "--quiet", *args], env)


def test_gcloud_writes_googles_urls_whatever_the_overrides(endpoints, tmp_path, client_env):
    """create-cred-config builds https://sts.googleapis.com and https://iamcredentials... from
    the universe domain alone, and there is no endpoint override for STS: the config's
    token_url is the only way to point gcloud's exchange at the stack."""
    require_tools("gcloud")
    env = client_env(endpoints.credentials[FEDERATED])
    env["CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS"] = (
        endpoints.iamcredentials.api_endpoint + "/"
    )
    refused = gcloud(env, "config", "set", "api_endpoint_overrides/sts", endpoints.sts.token_url)
    assert refused.returncode == 1
    assert "Section [api_endpoint_overrides] has no property [sts]." in refused.stderr
    written = tmp_path / "config.json"
    provider = endpoints.providers["oidc-pool-run/oidc-provider-1"].audience
    done = gcloud(
        env,
        "iam",
        "workload-identity-pools",
        "create-cred-config",
        provider.removeprefix("//iam.googleapis.com/"),
        "--credential-source-file=/var/run/token",
        f"--service-account={SA}",
        f"--output-file={written}",
    )
    assert done.returncode == 0, done.stderr
    config = json.loads(written.read_text())
    assert config["audience"] == provider
    assert config["token_url"] == "https://sts.googleapis.com/v1/token"
    assert config["service_account_impersonation_url"] == (
        f"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{SA}"
        ":generateAccessToken"
    )


def test_gcloud_login_with_a_federated_config_names_the_principal(endpoints, tmp_path, client_env):
    """gcloud names every account it holds. For a federated token it asks STS's token
    introspection endpoint (the config's token_info_url) whose principal it is."""
    require_tools("gcloud")
    config = json.loads(Path(endpoints.credentials[FEDERATED]).read_text())
    config["token_info_url"] = endpoints.sts.token_url.replace("/token", "/introspect")
    path = tmp_path / "federated.json"
    path.write_text(json.dumps(config))
    env = client_env(path)
    done = gcloud(env, "auth", "login", f"--cred-file={path}")
    assert done.returncode == 0, done.stderr
    principal = (
        f"principal://iam.googleapis.com/projects/{endpoints.project.number}/locations/"
        "global/workloadIdentityPools/oidc-pool-run/subject/alice@domain.com"
    )
    assert f"Authenticated with external account credentials for: [{principal}]." in done.stderr
    assert principal in gcloud(env, "auth", "list").stdout


def test_gcloud_login_with_an_impersonated_config_mints_access_tokens_only(endpoints, client_env):
    """Logged in with an impersonated config, gcloud holds the account's access token; but
    print-identity-token refuses external accounts, and impersonating the same account again
    would need Token Creator on itself. Hence chain.sh's federated token and impersonation."""
    require_tools("gcloud")
    path = endpoints.credentials[IMPERSONATED]
    env = client_env(path)
    login = gcloud(env, "auth", "login", f"--cred-file={path}")
    assert login.returncode == 0, login.stderr
    assert f"Authenticated with external account credentials for: [{SA}]." in login.stderr
    token = gcloud(env, "auth", "print-access-token")
    assert token.returncode == 0, token.stderr
    info = requests.post(
        endpoints.google_issuer.tokeninfo,
        data={"access_token": token.stdout.strip()},
        timeout=10,
    ).json()
    assert info["email"] == SA
    refused = gcloud(
        env, "auth", "print-identity-token", f"--audiences={endpoints.services[SERVICE].url}"
    )
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "ERROR: (gcloud.auth.print-identity-token) Invalid account type for `--audiences`. "
        "Requires valid service account."
    )
    env["CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS"] = (
        endpoints.iamcredentials.api_endpoint + "/"
    )
    again = gcloud(
        env,
        "auth",
        "print-identity-token",
        f"--impersonate-service-account={SA}",
        "--include-email",
        f"--audiences={endpoints.services[SERVICE].url}",
    )
    assert again.returncode == 1
    assert "PERMISSION_DENIED: Failed to impersonate" in again.stderr
    assert "Permission 'iam.serviceAccounts.getAccessToken' denied" in again.stderr
