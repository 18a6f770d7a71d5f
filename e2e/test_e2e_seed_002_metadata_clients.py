"""Seed 002, the metadata server as clients probe it: its listings, recursive JSON and values
(agreeing with ``format=full`` ID tokens), its 301 and 404 answers, and the official clients
that find it with no settings but the metadata host: Node's ``GoogleAuth()`` (gcp-metadata's
``isAvailable()`` probes ``/computeMetadata/v1/instance``), Java's ADC
(``ComputeEngineCredentials``, which parses ``service-accounts/?recursive=true``) and Go's
``cloud.google.com/go/compute/metadata``.

Expected answers are Google's as recorded in the evidence file's sources, written literally.
A client whose tool is missing is skipped with one reason, or fails when
WIFLAB_REQUIRE_CLIENTS=1 (CI, after .ci/clients-setup.sh).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from google.auth.transport.requests import Request
from google.oauth2 import id_token

from e2e.chain import token_account
from e2e.names import SERVICE

CLIENTS = Path(__file__).resolve().parents[1] / "clients"
V1 = "/computeMetadata/v1"
FLAVOR = {"Metadata-Flavor": "Google"}
GO_METADATA = Path("/usr/share/gocode/src/cloud.google.com/go/compute/metadata")

pytestmark = pytest.mark.wif_requires(metadata=True)


@pytest.fixture
def metadata(wif_stack):
    """GET a path below /computeMetadata/v1/ on the target's metadata server."""
    host = wif_stack.endpoints.require_metadata().host

    def get(path: str, redirects: bool = True, **params: str) -> requests.Response:
        return requests.get(
            f"http://{host}{V1}/{path}",
            params=params,
            headers=FLAVOR,
            allow_redirects=redirects,
            timeout=10,
        )

    return get


@pytest.fixture
def account(wif_stack) -> str:
    found = wif_stack.endpoints.require_metadata()
    return found.service_account or wif_stack.topology.local.metadata_service_account


def listing(response: requests.Response) -> list[str]:
    """A listing as Google writes it: one entry a line, each line ending in a newline."""
    assert response.status_code == 200, response.text
    assert response.text.endswith("\n"), response.text
    return response.text.splitlines()


def test_every_directory_answers_a_listing(metadata, account):
    assert {"instance/", "project/"} <= set(listing(metadata("")))
    assert {"hostname", "id", "name", "service-accounts/", "zone", "attributes/"} <= set(
        listing(metadata("instance/"))
    )
    assert {"project-id", "numeric-project-id", "attributes/"} <= set(listing(metadata("project/")))
    assert listing(metadata("universe/")) == ["universe-domain"]
    assert {"default/", f"{account}/"} <= set(listing(metadata("instance/service-accounts/")))
    assert {"aliases", "email", "identity", "scopes", "token"} <= set(
        listing(metadata("instance/service-accounts/default/"))
    )


def test_a_directory_without_its_slash_moves_to_it(metadata):
    """What gcp-metadata's isAvailable() meets on Google (gcp-metadata #361)."""
    moved = metadata("instance", redirects=False)
    assert moved.status_code == 301
    assert moved.headers["Location"].endswith(f"{V1}/instance/")
    assert "zone" in listing(metadata("instance"))


def test_recursive_directories_answer_json(metadata, wif_stack, account):
    accounts = metadata("instance/service-accounts/", recursive="true")
    assert accounts.headers["Content-Type"].startswith("application/json")
    default = accounts.json()["default"]
    assert default["email"] == account
    assert "default" in default["aliases"]
    assert "https://www.googleapis.com/auth/cloud-platform" in default["scopes"]
    project = metadata("project/", recursive="true").json()
    assert project["projectId"] == wif_stack.endpoints.project.id
    assert project["numericProjectId"] == int(wif_stack.endpoints.project.number)
    instance = metadata("instance/", recursive="true").json()
    assert instance["serviceAccounts"]["default"]["email"] == account
    assert isinstance(instance["id"], int)


def test_values_agree_with_format_full_id_tokens(metadata, wif_stack, account):
    token = metadata(
        "instance/service-accounts/default/identity", audience="https://a.example", format="full"
    ).text
    claims = id_token.verify_token(
        token,
        Request(),
        audience="https://a.example",
        certs_url=wif_stack.endpoints.google_issuer.certs_v1,
    )
    engine = claims["google"]["compute_engine"]
    project = wif_stack.endpoints.project
    zone = metadata("instance/zone").text
    assert zone == f"projects/{project.number}/zones/{engine['zone']}"
    assert metadata("instance/id").text == engine["instance_id"]
    assert metadata("instance/name").text == engine["instance_name"]
    assert metadata("instance/hostname").text.startswith(f"{engine['instance_name']}.")
    assert metadata("project/project-id").text == engine["project_id"] == project.id
    assert metadata("project/numeric-project-id").text == str(engine["project_number"])
    assert metadata("universe/universe-domain").text == "googleapis.com"
    assert metadata("instance/service-accounts/default/email").text == account
    assert "default" in metadata("instance/service-accounts/default/aliases").text.split()


def test_404s_are_the_metadata_servers_page(metadata):
    """Not a Google API's JSON error: the page of kubernetes-the-hard-way #454 / #664."""
    missing = metadata("instance/attributes/wiflab-no-such-key")
    assert missing.status_code == 404
    assert missing.headers["Content-Type"].startswith("text/html")
    assert missing.headers["Metadata-Flavor"] == "Google"
    assert "<title>Error 404 (Not Found)!!1</title>" in missing.text
    assert (
        f"The requested URL <code>{V1}/instance/attributes/wiflab-no-such-key</code> was not "
        "found on this server."
    ) in missing.text


# -- the official clients, with no settings but the metadata host ------------------------------


def require(client: str, missing: list[str]) -> None:
    if not missing:
        return
    reason = f"the {client} client needs {', '.join(missing)}: run .ci/clients-setup.sh"
    if os.environ.get("WIFLAB_REQUIRE_CLIENTS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def run_client(wif_stack, tmp_path):
    """Run a client as a workload on a VM: no credentials file, no project, an empty home; only
    GCE_METADATA_HOST. Its JSON report."""

    def run(command: list[str], **extra: str) -> dict:
        host = wif_stack.endpoints.require_metadata().host
        env = {
            name: value
            for name, value in os.environ.items()
            if name
            not in (
                "GOOGLE_APPLICATION_CREDENTIALS",
                "GOOGLE_CLOUD_PROJECT",
                "GCLOUD_PROJECT",
                "CLOUDSDK_CONFIG",
            )
        }
        env.update(GCE_METADATA_HOST=host, HOME=str(tmp_path), **extra)
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run


def assert_tokens_work(wif_stack, report: dict, account: str) -> None:
    """The access token is the account's; the ID token passes a relying party and Cloud Run."""
    url = wif_stack.service_url(SERVICE)
    assert report["email"] == account
    assert token_account(wif_stack, report["access_token"]) == account
    claims = id_token.verify_token(
        report["id_token"],
        Request(),
        audience=url,
        certs_url=wif_stack.endpoints.google_issuer.certs_v1,
    )
    assert claims["email"] == account
    dump = requests.get(
        f"{url}/dump", headers={"Authorization": f"Bearer {report['id_token']}"}, timeout=10
    )
    assert dump.status_code == 200, dump.text
    assert dump.json()["identity"]["claims"]["email"] == account


def test_node_google_auth_with_no_settings_finds_the_metadata_server(
    wif_stack, run_client, account
):
    missing = [] if shutil.which("node") else ["node"]
    if not (CLIENTS / "node" / "node_modules" / "google-auth-library").is_dir():
        missing.append("clients/node/node_modules (npm ci)")
    require("Node metadata", missing)
    url = wif_stack.service_url(SERVICE)
    report = run_client(["node", str(CLIENTS / "node" / "metadata.js"), url])
    assert report["available"] is True
    assert report["client"] == "Compute"
    assert report["project"] == wif_stack.endpoints.project.id
    assert report["universe"] == "googleapis.com"
    assert report["zone"].startswith(f"projects/{wif_stack.endpoints.project.number}/zones/")
    assert_tokens_work(wif_stack, report, account)


def test_go_compute_metadata_client(wif_stack, run_client, account, tmp_path):
    missing = [] if shutil.which("go") else ["go (apt-get install golang-go)"]
    if not GO_METADATA.is_dir():
        missing.append("golang-google-cloud-compute-metadata-dev")
    require("Go metadata", missing)
    url = wif_stack.service_url(SERVICE)
    report = run_client(
        ["go", "run", str(CLIENTS / "go" / "metadata.go"), url],
        GOPATH=str(GO_METADATA.parents[4]),
        GO111MODULE="off",
        GOCACHE=str(tmp_path / "gocache"),
    )
    project = wif_stack.endpoints.project
    assert report["on_gce"] is True
    assert (report["project"], report["numeric_project_id"]) == (project.id, project.number)
    assert report["scopes"] == ["https://www.googleapis.com/auth/cloud-platform"]
    assert report["missing_is_not_defined"] is True
    claims = id_token.verify_token(
        report["id_token"],
        Request(),
        audience=url,
        certs_url=wif_stack.endpoints.google_issuer.certs_v1,
    )
    engine = claims["google"]["compute_engine"]
    assert (report["zone"], report["instance_id"], report["instance_name"]) == (
        engine["zone"],
        engine["instance_id"],
        engine["instance_name"],
    )
    assert report["hostname"].startswith(f"{engine['instance_name']}.")
    assert_tokens_work(wif_stack, report, account)


def test_java_application_default_credentials_on_the_metadata_server(
    wif_stack, run_client, account, tmp_path
):
    missing = [] if shutil.which("javac") else ["a JDK (apt-get install default-jdk-headless)"]
    classpath = subprocess.run(
        ["bash", str(CLIENTS / "java" / "classpath.sh")], capture_output=True, text=True
    )
    if classpath.returncode != 0:
        missing.append("libgoogle-auth-java")
    require("Java metadata", missing)
    url = wif_stack.service_url(SERVICE)
    report = run_client(
        [
            "java",
            f"-Duser.home={tmp_path}",  # no gcloud well-known file: ADC must find the VM
            "-cp",
            classpath.stdout.strip(),
            str(CLIENTS / "java" / "Metadata.java"),
            url,
        ]
    )
    assert report["client"] == "ComputeEngineCredentials"
    assert_tokens_work(wif_stack, report, account)
