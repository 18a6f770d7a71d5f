"""The plugin's wif_project: a user's suite, run as a user runs it (its own directory, the
plugin found through its entry point), puts its own project into a running, shared stand-in
(processes mode, two Google-side workers: the PUT lands on one, the chain on either) at session
start, sees only its own journal entries, and deletes the project at the end."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from bench.google_side import exchange_fields
from tests.namespaces.conftest import EXAMPLE, project_document
from wiflab_lab.stack import Stack, StackOptions

NUMBER, PROJECT_ID = "314159265358", "ci-job-4711"
B_NUMBER = "222233334444"

USER_TESTS = f'''
from google.auth.transport.requests import Request

from wiflab_lab.testing import ExternalAccounts


def test_my_chain_runs_in_my_project(wif_project, wif_project_stack, tmp_path):
    assert wif_project_stack.endpoints.project.number == "{NUMBER}"
    credentials = ExternalAccounts(wif_project_stack, tmp_path).credentials(
        profile="alice", service_account="oidc-federated"
    )
    credentials.refresh(Request())
    assert credentials.token.startswith("ya29.")
    entries = wif_project.journal()
    assert {{e["service"] for e in entries}} >= {{"sts", "iamcredentials"}}
    assert {{e["project"] for e in entries}} == {{"{NUMBER}"}}
'''


def run_user_suite(directory: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    """pytest as a user runs it in their own directory; nothing of this run leaks in."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    command = [sys.executable, "-m", "pytest", *args]
    return subprocess.run(
        command, cwd=directory, env=clean, capture_output=True, text=True, timeout=180
    )


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("shared-stand-in")
    b = state / "team-b.yaml"  # one more project loaded at start (WIFLAB_MORE_TOPOLOGIES)
    b.write_text(yaml.safe_dump(project_document(B_NUMBER, "team-b-project"), sort_keys=False))
    options = StackOptions(
        EXAMPLE,
        state,
        mode="processes",
        port_base=0,
        google_workers=2,
        more_topology_paths=(b,),
    )
    with Stack(options) as stack:
        yield stack


def test_every_worker_serves_a_project_loaded_at_start(shared: Stack) -> None:
    endpoints = shared.endpoints
    audience = (
        f"//iam.googleapis.com/projects/{B_NUMBER}/locations/global/"
        "workloadIdentityPools/oidc-pool-run/providers/oidc-provider-1"
    )
    claims = {"sub": "alice@domain.com", "isadmin": "true", "aud": audience}
    subject = requests.post(endpoints.require_idp().token_url, json=claims, timeout=10).text
    for _ in range(6):  # two workers: both answer some of them
        answer = requests.post(endpoints.sts.token_url, data=exchange_fields(audience, subject))
        assert answer.status_code == 200, answer.text
        assert answer.json()["access_token"].startswith("ya29.d.")


def test_a_suite_puts_its_project_for_the_session_and_deletes_it(
    shared: Stack, tmp_path: Path
) -> None:
    google = shared.endpoints.iamcredentials.api_endpoint
    project_url = f"{google}/wiflab/v1/projects/{NUMBER}/topology"
    assert requests.get(project_url, timeout=10).status_code == 404
    (tmp_path / "my-project.yaml").write_text(
        yaml.safe_dump(project_document(NUMBER, PROJECT_ID), sort_keys=False)
    )
    (tmp_path / "test_my_project.py").write_text(USER_TESTS)
    user_suite = [
        *("-p", "no:cacheprovider"),
        *("--wif-project", "my-project.yaml"),
        *("--wif-shared", str(shared.endpoints_path)),
        "test_my_project.py",
    ]
    done = run_user_suite(tmp_path, user_suite)

    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b1 passed\b", done.stdout), done.stdout
    # Deleted at the session's end; the default project still serves.
    assert requests.get(project_url, timeout=10).status_code == 404
    default = requests.get(f"{google}/wiflab/v1/topology", timeout=10)
    assert default.json()["project"]["number"] == "123456789012"


LOCAL_USER_TESTS = """
from google.auth.transport.requests import Request

from wiflab_lab.testing import ExternalAccounts


def test_the_session_stack_serves_every_topology_given(wif_stack):
    numbers = [t.project_number for t in wif_stack.backend.projects]
    assert numbers[:2] == ["123456789012", "222233334444"]


def test_my_project_lives_in_the_session_stack(wif_stack, wif_project, wif_project_stack, tmp_path):
    assert wif_stack.backend.project("{number}") is not None
    credentials = ExternalAccounts(wif_project_stack, tmp_path).credentials(profile="alice")
    credentials.refresh(Request())
    assert credentials.token.startswith("ya29.d.")
"""


def test_wif_topology_repeated_and_wif_project_in_the_sessions_own_stack(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(
        yaml.safe_dump(project_document(B_NUMBER, "team-b-project"), sort_keys=False)
    )
    (tmp_path / "mine.yaml").write_text(
        yaml.safe_dump(project_document(NUMBER, PROJECT_ID), sort_keys=False)
    )
    (tmp_path / "test_local.py").write_text(LOCAL_USER_TESTS.replace("{number}", NUMBER))
    done = run_user_suite(
        tmp_path,
        [
            *("-p", "no:cacheprovider"),
            *("--wif-topology", str(EXAMPLE), "--wif-topology", "b.yaml"),
            *("--wif-project", "mine.yaml"),
            "test_local.py",
        ],
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b2 passed\b", done.stdout), done.stdout
