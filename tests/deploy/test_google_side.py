"""deploy.google_side: Google's side for an IdP and apps served elsewhere (compose.yaml's
containers) writes the endpoints.json ``wiflab up`` writes, pointing at them."""

from __future__ import annotations

import subprocess
import sys

import jwt
import pytest
import requests

from idp_server.app import create_app as create_idp
from idp_server.settings import IdpSettings
from mock_gcp.topology import load_topology
from protected_app.app import create_app as create_protected
from protected_app.settings import Settings, VerifyMode
from tests.deploy.cases import ROOT
from wiflab_core.serving import ThreadedServer
from wiflab_lab.stack import Stack, StackOptions

EXAMPLE = ROOT / "wif.yaml"
SERVICE = "federated-auth-cloud-run"


@pytest.fixture
def elsewhere():
    """The IdP and the app, as the containers would serve them."""
    idp, app = ThreadedServer(), ThreadedServer()
    idp.app = create_idp(
        IdpSettings(
            issuer=idp.url,
            profiles=load_topology(EXAMPLE).idp.plain(),
            admin_secret="shared-admin-secret",
        )
    )
    app.app = create_protected(Settings(VerifyMode.CLOUD_RUN, cloud_run={"K_SERVICE": SERVICE}))
    with idp, app:
        yield idp, app


def test_it_writes_wiflab_ups_endpoints_for_the_given_upstreams(tmp_path, elsewhere) -> None:
    idp, app = elsewhere
    options = StackOptions(
        EXAMPLE,
        tmp_path / "side",
        port_base=0,
        idp_url=idp.url,
        app_urls={SERVICE: app.url},
        admin_secret="shared-admin-secret",
    )
    with Stack(options) as side:
        endpoints = side.endpoints
        front = endpoints.services[SERVICE].url
        refused = requests.get(f"{front}/dump", timeout=10)
        token_file = (
            tmp_path / "side" / "credentials" / "oidc-pool-run.oidc-provider-1.subject-token"
        )
        claims = jwt.decode(token_file.read_text(), options={"verify_signature": False})
    with Stack(StackOptions(EXAMPLE, tmp_path / "up", port_base=0)) as up:
        assert set(endpoints.to_json()) == set(up.endpoints.to_json())
        assert set(endpoints.credentials) == set(up.endpoints.credentials)
    assert endpoints.require_idp().issuer == idp.url
    assert (tmp_path / "side" / "idp-admin-secret").read_text() == "shared-admin-secret"
    # The front end guards the app like Cloud Run: no token, Google's 403 page.
    assert refused.status_code == 403 and "Your client does not have permission" in refused.text
    assert claims["iss"] == idp.url and claims["sub"] == "alice@domain.com"


def test_every_app_needs_an_upstream(tmp_path, elsewhere) -> None:
    idp, _ = elsewhere
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "wiflab.cli",
            "deploy",
            "google-side",
            "--topology",
            str(EXAMPLE),
            "--state-dir",
            str(tmp_path),
            "--idp-url",
            idp.url,
            "--port-base",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"--app: no URL for {SERVICE}" in done.stderr


def test_app_urls_must_name_topology_services(tmp_path) -> None:
    options = StackOptions(EXAMPLE, tmp_path, port_base=0, app_urls={"nope": "http://x"})
    with pytest.raises(ValueError, match="services the topology lacks: nope"):
        Stack(options)


def test_a_part_that_stops_by_itself_is_named_without_a_traceback(
    tmp_path, elsewhere, monkeypatch, capsys
) -> None:
    # A threads-mode part cannot be killed from outside; the stop is what serving reports.
    from deploy import google_side
    from wiflab.cli import main
    from wiflab_lab.up import PartDied

    def stops(_stack: object) -> None:
        raise PartDied([f"run:{SERVICE}"])

    monkeypatch.setattr(google_side, "serve_until_signalled", stops)
    idp, app = elsewhere
    args = ["deploy", "google-side", "--topology", str(EXAMPLE), "--state-dir", str(tmp_path)]
    args += ["--idp-url", idp.url, "--app", f"{SERVICE}={app.url}", "--port-base", "0"]
    assert main(args) == 1
    stderr = capsys.readouterr().err
    assert f"run:{SERVICE}: stopped serving; the whole stack was stopped" in stderr
    assert "Traceback" not in stderr
