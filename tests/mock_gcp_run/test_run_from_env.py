"""The front end built from WIFLAB_* variables: in a thread, and under gunicorn as deployed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, jsonify

from mock_gcp.key_source import KeySource, KeySourceError
from mock_gcp.run.front_end import FrontEndConfigError, create_app_from_env
from mock_gcp.topology import TopologyError
from tests.mock_gcp_run.helpers import CALLER, CALLER_UNIQUE_ID, GOOGLE_ISSUER, id_token_claims
from wiflab_core.keys import SigningKey, render_jwks
from wiflab_core.serving import GunicornProcess, ThreadedServer

TOPOLOGY = f"""
project: {{id: wiflab-demo, number: "123456789012"}}
serviceAccounts:
  - email: {CALLER}
    uniqueId: "{CALLER_UNIQUE_ID}"
services:
  - name: dump
    app: protected_app
    customAudiences: [https://dump.custom.example]
    policy:
      bindings:
        - role: roles/run.invoker
          members: [serviceAccount:{CALLER}]
  - name: public-dump
    app: protected_app
    allowUnauthenticated: true
"""


@pytest.fixture
def topology_file(tmp_path: Path) -> Path:
    path = tmp_path / "wif.yaml"
    path.write_text(TOPOLOGY)
    return path


@pytest.fixture
def google_certs(google_key: SigningKey, running_servers: list[ThreadedServer]) -> str:
    app = Flask(__name__)

    @app.get("/oauth2/v3/certs")
    def certs() -> Any:
        return jsonify(render_jwks([google_key.public_jwk]))

    server = ThreadedServer(app).start()
    running_servers.append(server)
    return server.url + "/oauth2/v3/certs"


def front_end_env(
    topology: Path, service: str, url: str, upstream: str, certs: str
) -> dict[str, str]:
    return {
        "WIFLAB_TOPOLOGY": str(topology),
        "WIFLAB_RUN_SERVICE": service,
        "WIFLAB_RUN_SERVICE_URL": url,
        "WIFLAB_RUN_UPSTREAM": upstream,
        "WIFLAB_GOOGLE_CERTS_URL": certs,
        "WIFLAB_GOOGLE_ISSUER": GOOGLE_ISSUER,
    }


def test_front_end_from_env_checks_tokens_against_the_certs_url(
    topology_file: Path,
    google_certs: str,
    google_key: SigningKey,
    dump_url: str,
    running_servers: list[ThreadedServer],
) -> None:
    holder: dict[str, Any] = {}
    server = ThreadedServer(lambda environ, start: holder["app"](environ, start))
    env = front_end_env(topology_file, "dump", server.url, dump_url, google_certs)
    holder["app"] = create_app_from_env(env)
    running_servers.append(server.start())

    assert requests.get(server.url + "/dump").status_code == 403
    token = google_key.sign(id_token_claims(server.url))
    allowed = requests.get(server.url + "/dump", headers={"Authorization": f"Bearer {token}"})
    assert allowed.status_code == 200
    assert allowed.json()["identity"]["claims"]["email"] == CALLER
    # Without email, the unique id is looked up in the topology's service accounts.
    claims = id_token_claims("https://dump.custom.example")
    del claims["email"]
    no_email = google_key.sign(claims)
    response = requests.get(server.url + "/dump", headers={"Authorization": f"Bearer {no_email}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "missing",
    [
        "WIFLAB_TOPOLOGY",
        "WIFLAB_RUN_SERVICE",
        "WIFLAB_RUN_SERVICE_URL",
        "WIFLAB_RUN_UPSTREAM",
        "WIFLAB_GOOGLE_CERTS_URL",
        "WIFLAB_GOOGLE_ISSUER",
    ],
)
def test_missing_setting_is_named(topology_file: Path, missing: str) -> None:
    env = front_end_env(topology_file, "dump", "http://a", "http://b", "http://c/certs")
    del env[missing]
    with pytest.raises(FrontEndConfigError, match=missing):
        create_app_from_env(env)


def test_unknown_service_is_named(topology_file: Path) -> None:
    env = front_end_env(topology_file, "nope", "http://a", "http://b", "http://c/certs")
    with pytest.raises(FrontEndConfigError, match="'nope'"):
        create_app_from_env(env)


def test_bad_topology_path_is_named(tmp_path: Path) -> None:
    env = front_end_env(tmp_path / "absent.yaml", "dump", "http://a", "http://b", "http://c/c")
    with pytest.raises(TopologyError, match=r"absent\.yaml"):
        create_app_from_env(env)


def test_front_end_runs_under_gunicorn(topology_file: Path, google_certs: str) -> None:
    dump = GunicornProcess("protected_app.app:create_app()", env={"K_SERVICE": "public-dump"})
    with dump:
        # A public service checks no audience, so its URL need not be where gunicorn listens.
        url = "https://public-dump-abc123-uc.a.run.app"
        env = front_end_env(topology_file, "public-dump", url, dump.url, google_certs)
        front = GunicornProcess("mock_gcp.run.front_end:create_app_from_env()", env=env)
        with front:  # ready once /healthz answers 200 through the front end
            response = requests.post(front.url + "/dump?via=gunicorn", data=b"hello")
            assert response.status_code == 200
            dump_seen = response.json()
            assert dump_seen["query"] == {"via": ["gunicorn"]}
            assert dump_seen["body"] == "hello"
            assert dump_seen["headers"]["X-Forwarded-For"] == "127.0.0.1"


def test_a_front_end_sharing_google_s_key_source_accepts_a_new_issuer_key_at_once(
    topology_file: Path, tmp_path: Path, dump_url: str, running_servers: list[ThreadedServer]
) -> None:
    keys_path = tmp_path / "google-keys.json"
    google_side = KeySource.open(keys_path)  # what Google's side signs with
    holder: dict[str, Any] = {}
    server = ThreadedServer(lambda environ, start: holder["app"](environ, start))
    # The certs URL is unreachable: keys come from the key source, never over HTTP.
    env = front_end_env(topology_file, "dump", server.url, dump_url, "http://127.0.0.1:9/c")
    holder["app"] = create_app_from_env({**env, "WIFLAB_GOOGLE_KEYS": str(keys_path)})
    running_servers.append(server.start())

    def status(key: SigningKey) -> int:
        token = key.sign(id_token_claims(server.url))
        headers = {"Authorization": f"Bearer {token}"}
        return requests.get(server.url + "/dump", headers=headers).status_code

    before = google_side.current().active_issuer
    assert status(before) == 200
    rotated = google_side.rotate().active_issuer
    # At once: no cooldown on the new kid; the previous key is still good.
    assert (status(rotated), status(before)) == (200, 200)
    google_side.rotate()
    assert status(before) == 401  # retired two rotations later


def test_a_missing_key_source_is_named(topology_file: Path, tmp_path: Path) -> None:
    env = front_end_env(topology_file, "dump", "http://a", "http://b", "http://c/certs")
    absent = tmp_path / "absent-keys.json"
    with pytest.raises(KeySourceError, match=r"absent-keys\.json"):
        create_app_from_env({**env, "WIFLAB_GOOGLE_KEYS": str(absent)})
