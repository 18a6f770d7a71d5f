"""A stack in intercept mode, seen from outside: endpoints.json names Google's URLs and the
proxy; Google's hosts answer through it (STS, Cloud Resource Manager, accounts.google.com,
the run.app services); ``wiflab env`` prints what a shell needs."""

from __future__ import annotations

import json
import re
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from wiflab.cli import main
from wiflab_core.endpoints import Endpoints
from wiflab_lab.stack import Stack, StackOptions

ROOT = Path(__file__).resolve().parents[2]
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
CREDENTIALS_TEXT = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("intercept-stack")
    with Stack(StackOptions(ROOT / "wif.yaml", state, port_base=0, intercept=True)) as running:
        yield running


@pytest.fixture(scope="module")
def endpoints(stack: Stack) -> Endpoints:
    return stack.endpoints


@pytest.fixture(scope="module")
def client(endpoints: Endpoints) -> requests.Session:
    """A client configured only by the stack's intercept variables."""
    env = endpoints.require_intercept().env
    session = requests.Session()
    session.trust_env = False
    session.proxies = {"https": env["HTTPS_PROXY"], "http": env["HTTP_PROXY"]}
    session.verify = env["REQUESTS_CA_BUNDLE"]
    return session


@pytest.fixture(scope="module")
def federated_token(client: requests.Session, endpoints: Endpoints) -> str:
    config = json.loads(
        Path(endpoints.credentials["oidc-pool-run.oidc-provider-1.file"]).read_text()
    )
    answer = client.post(
        "https://sts.googleapis.com/v1/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "audience": config["audience"],
            "scope": CLOUD_PLATFORM,
            "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "subject_token": Path(config["credential_source"]["file"]).read_text(),
            "subject_token_type": config["subject_token_type"],
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def test_endpoints_name_the_proxy_on_loopback_and_googles_urls(endpoints: Endpoints) -> None:
    doc = endpoints.to_json()
    intercept = doc["intercept"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", intercept["proxy_url"])
    assert Path(intercept["ca_file"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert doc["sts"] == {"token_url": "https://sts.googleapis.com/v1/token"}
    assert doc["iamcredentials"] == {"api_endpoint": "https://iamcredentials.googleapis.com"}
    assert doc["google_issuer"] == {
        "issuer": "https://accounts.google.com",
        "certs_v1": "https://www.googleapis.com/oauth2/v1/certs",
        "certs_v3": "https://www.googleapis.com/oauth2/v3/certs",
        "tokeninfo": "https://oauth2.googleapis.com/tokeninfo",
    }
    assert doc["metadata"] == {"host": "metadata.google.internal"}
    for name, service in doc["services"].items():
        assert re.fullmatch(rf"https://{name}-[a-z0-9]{{10}}-uc\.a\.run\.app", service["url"])
    # The file reads back as it was written.
    assert Endpoints.from_json(json.loads(Path(endpoints_path(endpoints)).read_text())) == endpoints


def endpoints_path(endpoints: Endpoints) -> Path:
    return Path(endpoints.require_intercept().ca_file).parent.parent / "endpoints.json"


def test_the_variables_name_the_proxy_and_bundles_for_every_client(endpoints: Endpoints) -> None:
    intercept = endpoints.require_intercept()
    env = intercept.env
    proxy = intercept.proxy_url
    assert env["HTTPS_PROXY"] == env["HTTP_PROXY"] == env["https_proxy"] == proxy
    assert set(env["NO_PROXY"].split(",")) == {"localhost", "127.0.0.1", "::1"}
    assert env["NODE_EXTRA_CA_CERTS"] == intercept.ca_file
    bundle = env["REQUESTS_CA_BUNDLE"]
    for name in (
        "SSL_CERT_FILE",
        "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
        "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE",
    ):
        assert env[name] == bundle
    assert env["CLOUDSDK_PROXY_TYPE"] == "http"
    assert f"http://{env['CLOUDSDK_PROXY_ADDRESS']}:{env['CLOUDSDK_PROXY_PORT']}" == proxy


def test_the_bundle_holds_the_local_ca_and_the_system_roots(endpoints: Endpoints) -> None:
    """So unrelated HTTPS still verifies for a client whose roots the bundle replaces."""
    intercept = endpoints.require_intercept()
    text = Path(intercept.env["REQUESTS_CA_BUNDLE"]).read_text()
    assert Path(intercept.ca_file).read_text().strip() in text
    context = ssl.create_default_context(cafile=intercept.env["REQUESTS_CA_BUNDLE"])
    names = {
        dict(x[0] for x in cert["subject"]).get("commonName", "") for cert in context.get_ca_certs()
    }
    assert "wiflab local CA (Google hosts only)" in names
    assert len(names) > 50  # the system's roots (ISRG Root X1, GTS Root R1, ...)


def test_accounts_google_com_serves_googles_discovery(client: requests.Session) -> None:
    doc = client.get(
        "https://accounts.google.com/.well-known/openid-configuration", timeout=30
    ).json()
    assert doc["issuer"] == "https://accounts.google.com"
    assert doc["jwks_uri"] == "https://www.googleapis.com/oauth2/v3/certs"
    keys = client.get(doc["jwks_uri"], timeout=30).json()["keys"]
    assert keys and all(k["alg"] == "RS256" for k in keys)


def test_resource_manager_gets_the_topologys_project_by_number_and_id(
    client: requests.Session, federated_token: str, stack: Stack
) -> None:
    topology = stack.topology
    auth = {"Authorization": f"Bearer {federated_token}"}
    for name in (topology.project_number, topology.project_id):
        v1 = client.get(
            f"https://cloudresourcemanager.googleapis.com/v1/projects/{name}",
            headers=auth,
            timeout=30,
        )
        assert v1.status_code == 200
        assert v1.json()["projectId"] == topology.project_id
        assert v1.json()["projectNumber"] == topology.project_number
        assert v1.json()["lifecycleState"] == "ACTIVE"
        v3 = client.get(
            f"https://cloudresourcemanager.googleapis.com/v3/projects/{name}",
            headers=auth,
            timeout=30,
        )
        assert v3.json()["name"] == f"projects/{topology.project_number}"
        assert v3.json()["state"] == "ACTIVE"


def test_resource_manager_refuses_other_projects_as_google_does(
    client: requests.Session, federated_token: str
) -> None:
    auth = {"Authorization": f"Bearer {federated_token}"}
    base = "https://cloudresourcemanager.googleapis.com"
    v1 = client.get(f"{base}/v1/projects/someone-elses", headers=auth, timeout=30)
    assert (v1.status_code, v1.json()) == (
        403,
        {
            "error": {
                "code": 403,
                "message": "The caller does not have permission",
                "status": "PERMISSION_DENIED",
            }
        },
    )
    v3 = client.get(f"{base}/v3/projects/987654321", headers=auth, timeout=30)
    assert v3.status_code == 403
    assert v3.json()["error"]["message"] == (
        "Permission 'resourcemanager.projects.get' denied on resource "
        "'//cloudresourcemanager.googleapis.com/projects/987654321' (or it may not exist)."
    )
    assert v3.json()["error"]["details"][0]["reason"] == "IAM_PERMISSION_DENIED"
    bad = client.get(f"{base}/v1/projects/Not%20A%20Project", headers=auth, timeout=30)
    assert bad.status_code == 404
    assert bad.json()["error"]["status"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("authorization", "text"),
    [
        (None, f"Request is missing required authentication credential. {CREDENTIALS_TEXT}"),
        (
            "Bearer ya29.unknown",
            f"Request had invalid authentication credentials. {CREDENTIALS_TEXT}",
        ),
    ],
)
def test_resource_manager_needs_a_token_it_issued(
    client: requests.Session, stack: Stack, authorization: str | None, text: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = client.get(
        f"https://cloudresourcemanager.googleapis.com/v1/projects/{stack.topology.project_number}",
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == {"code": 401, "message": text, "status": "UNAUTHENTICATED"}


def test_a_front_end_expects_its_run_app_url_as_audience(
    client: requests.Session, federated_token: str, endpoints: Endpoints, stack: Stack
) -> None:
    public = endpoints.service_url("federated-auth-cloud-run")
    loopback = stack.part_urls["run:federated-auth-cloud-run"]
    account = "oidc-federated@demo-project.iam.gserviceaccount.com"

    def id_token(audience: str) -> str:
        answer = client.post(
            f"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{account}:generateIdToken",
            json={"audience": audience, "includeEmail": True},
            headers={"Authorization": f"Bearer {federated_token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["token"]

    allowed = client.get(
        f"{public}/dump", headers={"Authorization": f"Bearer {id_token(public)}"}, timeout=30
    )
    assert allowed.status_code == 200
    refused = client.get(
        f"{public}/dump", headers={"Authorization": f"Bearer {id_token(loopback)}"}, timeout=30
    )
    assert refused.status_code == 401
    assert (
        "Your client does not have permission to the requested URL <code>/dump</code>."
        in refused.text
    )


def test_wiflab_env_prints_lines_a_shell_evals(
    endpoints: Endpoints, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["env", "--endpoints", str(endpoints_path(endpoints))]) == 0
    lines = capsys.readouterr().out
    assert lines.startswith("export HTTPS_PROXY=")
    shown = subprocess.run(
        ["bash", "-c", f'{lines}\nprintf "%s\\n" "$HTTPS_PROXY" "$SSL_CERT_FILE" "$NO_PROXY"'],
        capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"},
    ).stdout.splitlines()  # fmt: skip
    env = endpoints.require_intercept().env
    assert shown == [env["HTTPS_PROXY"], env["SSL_CERT_FILE"], env["NO_PROXY"]]
    assert main(["env", "--unset"]) == 0
    unset = capsys.readouterr().out
    cleared = subprocess.run(
        ["bash", "-c", f'{lines}\n{unset}\necho "[${{HTTPS_PROXY-}}][${{REQUESTS_CA_BUNDLE-}}]"'],
        capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"},
    ).stdout  # fmt: skip
    assert cleared == "[][]\n"


def test_wiflab_env_names_what_is_missing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    endpoints: Endpoints,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WIFLAB_ENDPOINTS", raising=False)
    assert main(["env"]) == 2
    assert "pass --endpoints STATE_DIR/endpoints.json" in capsys.readouterr().err
    plain = endpoints.model_copy(update={"intercept": None})
    path = plain.write(tmp_path / "endpoints.json")
    assert main(["env", "--endpoints", str(path)]) == 2
    assert (
        "intercept: missing: the stack was not started with --intercept" in capsys.readouterr().err
    )
    assert main(["env", "--endpoints", str(tmp_path / "nope.json")]) == 2
    assert "nope.json" in capsys.readouterr().err
