"""GitHub Actions' own code against the lab IdP's OIDC request protocol, then the chain.

1. ``@actions/core``'s ``getIDToken(audience)`` (npm, e2e/github_oidc): the call every action
   makes, with the job's ``ACTIONS_ID_TOKEN_REQUEST_URL`` / ``_TOKEN`` as ``wiflab env
   --preset github`` prints them; its token, in the credential config
   google-github-actions/auth writes (a url source: the request URL with ``audience=``, the
   bearer header, format json ``value``), takes google-auth to the dump service.
2. google-github-actions/auth itself (``dist/main/index.js``, run with node as the runner
   runs it, in intercept mode so its Google URLs reach the stand-in): it must write its
   credentials file and outputs, and that file, read by google-auth, must reach the service.
   Its dist is not published on any registry CI reaches: the test reads it from
   ``$WIFLAB_GHA_AUTH_DIST`` (the action's checkout, or its dist/main/index.js) or
   ``~/.cache/wiflab/google-github-actions-auth``, and is skipped with one reason without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from e2e.ci_topology import (
    DENIED,
    FEDERATED,
    GITHUB,
    GITHUB_REPOSITORY_ID,
    dump_as,
    exchange_then_impersonate,
    impersonated_account,
    provider_name,
    with_ci_pool,
)
from wiflab_lab import ci_env
from wiflab_lab.testing import TopologyOverride, topology_url

REPO = Path(__file__).resolve().parents[1]
OIDC_CLIENT = REPO / "e2e" / "github_oidc"
DIST_ENV = "WIFLAB_GHA_AUTH_DIST"
DIST_CACHE = Path.home() / ".cache" / "wiflab" / "google-github-actions-auth"
REQUIRE = os.environ.get("WIFLAB_REQUIRE_CLIENTS") == "1"


def need(condition: bool, reason: str) -> None:
    if condition:
        return
    if REQUIRE:
        pytest.fail(f"{reason} (WIFLAB_REQUIRE_CLIENTS=1)")
    pytest.skip(reason)


def node() -> str:
    found = shutil.which("node")
    need(found is not None, "node is not installed")
    assert found is not None
    return found


def job_env(endpoints, **extra: str) -> dict[str, str]:
    """The runner's environment for the job: only what it has, no Google settings."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GOOGLE_", "CLOUDSDK_", "GITHUB_", "ACTIONS_", "INPUT_", "RUNNER_"))
    }
    return {**inherited, **ci_env.github_environment(endpoints, **GITHUB), **extra}


def get_id_token(env: dict[str, str], audience: str | None) -> subprocess.CompletedProcess[str]:
    need(
        (OIDC_CLIENT / "node_modules" / "@actions" / "core").is_dir(),
        "e2e/github_oidc has no node_modules: npm ci --prefix e2e/github_oidc",
    )
    command = [node(), str(OIDC_CLIENT / "get_id_token.mjs"), *([audience] if audience else [])]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def ci_pool(wif_stack, wif_topology):
    with wif_topology.applied(with_ci_pool(wif_topology.document())):
        yield wif_stack.endpoints


def audience_of(endpoints) -> str:
    return "https://iam.googleapis.com/" + provider_name(endpoints.project.number, "github")


def test_actions_core_gets_the_jobs_token_for_the_audience(ci_pool):
    done = get_id_token(job_env(ci_pool), audience_of(ci_pool))
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == audience_of(ci_pool)
    assert claims["iss"] == ci_pool.idp.issuer + "/presets/github"
    assert claims["repository"] == "acme/app"
    assert claims["repository_owner_id"] == GITHUB["owner_id"]
    assert claims["sub"] == "repo:acme/app:ref:refs/heads/main"
    assert f"::add-mask::{token}" in done.stdout  # @actions/core masks it in the job's log


def test_actions_core_with_a_wrong_request_token_fails_as_on_github(ci_pool):
    done = get_id_token(job_env(ci_pool, ACTIONS_ID_TOKEN_REQUEST_TOKEN="not-this-run"), "aud")
    assert done.returncode == 1
    assert "Failed to get ID Token." in done.stderr
    assert "Error Code : 401" in done.stderr


def test_the_config_the_action_writes_takes_google_auth_to_the_service(ci_pool):
    """The credential config as google-github-actions/auth's createCredentialsFile builds it
    (src/client/workload_identity_federation.ts), with the stand-in's URLs."""
    env = job_env(ci_pool)
    request = urlsplit(env["ACTIONS_ID_TOKEN_REQUEST_URL"])
    query = {k: v[0] for k, v in parse_qs(request.query).items()}
    query["audience"] = audience_of(ci_pool)
    from urllib.parse import urlencode

    info = {
        "type": "external_account",
        "audience": "//iam.googleapis.com/" + provider_name(ci_pool.project.number, "github"),
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": ci_pool.sts.token_url,
        "credential_source": {
            "url": request._replace(query=urlencode(query)).geturl(),
            "headers": {"Authorization": f"Bearer {env['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"},
            "format": {"type": "json", "subject_token_field_name": "value"},
        },
        "service_account_impersonation_url": (
            f"{ci_pool.iamcredentials.api_endpoint.rstrip('/')}/v1/projects/-/serviceAccounts/"
            f"{FEDERATED}:generateAccessToken"
        ),
    }
    assert impersonated_account(ci_pool, info) == FEDERATED
    assert dump_as(ci_pool, info)["identity"]["claims"]["email"] == FEDERATED


def test_another_repository_of_the_owner_is_refused_by_iam(ci_pool):
    """Google's template condition passes (same owner id); the binding names one repository id."""
    env = job_env(ci_pool)
    env["ACTIONS_ID_TOKEN_REQUEST_URL"] = ci_env.github_request_url(
        ci_pool, **{**GITHUB, "repository": "acme/other", "repository_id": "111"}
    )
    done = get_id_token(env, audience_of(ci_pool))
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["repository_id"] == "111" != GITHUB_REPOSITORY_ID
    impersonated = exchange_then_impersonate(ci_pool, "github", token)
    assert impersonated.status_code == 403
    assert impersonated.json()["error"]["message"] == DENIED


# -- 2. google-github-actions/auth's dist, as the runner runs it ------------------------------


def action_dist() -> Path:
    given = os.environ.get(DIST_ENV)
    candidates = [Path(given)] if given else []
    candidates.append(DIST_CACHE)
    for candidate in candidates:
        for path in (candidate, candidate / "dist" / "main" / "index.js"):
            if path.is_file():
                return path
    pytest.skip(
        f"google-github-actions/auth's dist/main/index.js is not here: it is published on no "
        f"registry CI reaches; set {DIST_ENV} to a checkout of the action (or its "
        f"dist/main/index.js), or put one at {DIST_CACHE}"
    )


@pytest.fixture
def intercepted_ci_pool(wif_intercept):
    override = TopologyOverride(topology_url(wif_intercept.endpoints))
    with override.applied(with_ci_pool(override.document())):
        yield wif_intercept.endpoints


def read_file_commands(path: Path) -> dict[str, str]:
    """GITHUB_ENV / GITHUB_OUTPUT: NAME<<DELIMITER\\nVALUE\\nDELIMITER lines, or NAME=VALUE."""
    values: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    while lines:
        line = lines.pop(0)
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            body = []
            while lines and lines[0] != delimiter:
                body.append(lines.pop(0))
            lines.pop(0)
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def test_google_github_actions_auth_completes_the_chain(intercepted_ci_pool, tmp_path):
    dist = action_dist()
    endpoints = intercepted_ci_pool
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "README.md").write_text("checked out\n")
    github_env, github_output = tmp_path / "github_env", tmp_path / "github_output"
    github_env.touch()
    github_output.touch()
    provider = provider_name(endpoints.project.number, "github")
    env = {
        **job_env(endpoints),
        **endpoints.require_intercept().env,
        "HOME": str(tmp_path),
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_ENV": str(github_env),
        "GITHUB_OUTPUT": str(github_output),
        "GITHUB_STATE": str(tmp_path / "github_state"),
        "GITHUB_ACTION_REF": "v3",
        "RUNNER_TEMP": str(tmp_path),
        # The action's inputs (action.yml), as the runner passes them.
        "INPUT_WORKLOAD_IDENTITY_PROVIDER": provider,
        "INPUT_SERVICE_ACCOUNT": FEDERATED,
        "INPUT_CREATE_CREDENTIALS_FILE": "true",
        "INPUT_EXPORT_ENVIRONMENT_VARIABLES": "true",
        "INPUT_CLEANUP_CREDENTIALS": "true",
        "INPUT_UNIVERSE": "googleapis.com",
        "INPUT_TOKEN_FORMAT": "access_token",
        "INPUT_ACCESS_TOKEN_LIFETIME": "3600s",
        "INPUT_ACCESS_TOKEN_SCOPES": "https://www.googleapis.com/auth/cloud-platform",
        "INPUT_ID_TOKEN_INCLUDE_EMAIL": "false",
    }
    done = subprocess.run(
        [node(), str(dist)], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    outputs = read_file_commands(github_output)
    assert done.returncode == 0 and "::error::" not in done.stdout, done.stdout + done.stderr
    assert "Created credentials file at" in done.stdout
    exported = read_file_commands(github_env)
    credentials_file = Path(outputs["credentials_file_path"])
    assert exported["GOOGLE_APPLICATION_CREDENTIALS"] == str(credentials_file)
    assert outputs["access_token"]
    info = json.loads(credentials_file.read_text())
    assert info["token_url"] == "https://sts.googleapis.com/v1/token"
    assert info["credential_source"]["format"]["subject_token_field_name"] == "value"
    # The file, read by google-auth (intercept mode's variables set), reaches the service.
    assert impersonated_account(endpoints, info) == FEDERATED
    assert dump_as(endpoints, info)["identity"]["claims"]["email"] == FEDERATED
