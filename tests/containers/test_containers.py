"""The images as Cloud Run would run them: seed 001's chain through the official clients, the
HEALTHCHECK, a stop on SIGTERM within Cloud Run's 10 s, and an IdP that will not mint for the
network without a secret."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jwt
import pytest
import requests

from tests.containers.conftest import (
    SA,
    SERVICE,
    Lab,
    app_env,
    call_dump_as_seed_001,
    free_port,
    idp_env,
    run,
)
from wiflab_core.serving import wait_ready

CLOUD_RUN_GRACE_SECONDS = 10


def test_seed_001_chain_reaches_the_app_container(google_side, lab: Lab) -> None:
    """fake token (IdP container) -> STS -> generateIdToken with the federated token -> the
    Cloud Run front end -> the app container, which shows who called."""
    endpoints = google_side.endpoints
    path = endpoints.credentials["oidc-pool-run.oidc-provider-1.file"]
    service_url = endpoints.services[SERVICE].url
    response = call_dump_as_seed_001(endpoints)
    assert response.status_code == 200, response.text
    dump = response.json()
    assert dump["identity"]["claims"]["email"] == SA
    assert dump["identity"]["claims"]["aud"] == service_url
    assert dump["identity"]["verified"] is True  # its front end checked it, and says so
    assert dump["cloud_run"]["K_SERVICE"] == SERVICE  # answered by the app container itself
    # The subject token came from the IdP container, signed with a key it publishes.
    config = json.loads(Path(path).read_text())
    subject = Path(config["credential_source"]["file"]).read_text()
    kid = jwt.get_unverified_header(subject)["kid"]
    assert jwt.decode(subject, options={"verify_signature": False})["iss"] == lab.idp.url
    published = requests.get(f"{lab.idp.url}/certs", timeout=10).json()["keys"]
    assert kid in {key["kid"] for key in published}


def test_a_token_sent_straight_to_the_app_container_is_not_verified(google_side, lab) -> None:
    """A forged token that looks as if Cloud Run had checked it (its signature replaced by
    the marker), sent to the app's own port: the app knows its front end did not send it."""
    claims = {"email": SA, "aud": google_side.endpoints.services[SERVICE].url, "exp": 2**31}
    segments = ({"alg": "RS256", "typ": "JWT"}, claims)
    signed_part = ".".join(
        base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
        for part in segments
    )
    forged = f"{signed_part}.SIGNATURE_REMOVED_BY_GOOGLE"
    response = requests.get(
        f"{lab.app.url}/dump", headers={"Authorization": f"Bearer {forged}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.json()["identity"]["verified"] is False


def test_without_a_google_id_token_the_app_is_out_of_reach(google_side) -> None:
    service_url = google_side.endpoints.services[SERVICE].url
    response = requests.get(f"{service_url}/dump", timeout=30)
    assert response.status_code == 403
    assert "Your client does not have permission" in response.text


def test_the_images_run_as_a_user_and_check_their_own_health(engine, images) -> None:
    for tag in images.values():
        config = engine.images.get(tag).attrs["Config"]
        assert config["User"] == "10001:10001", tag
        assert "/healthz" in " ".join(config["Healthcheck"]["Test"]), tag


@pytest.mark.parametrize("app_name", ["idp_server", "protected_app"])
def test_sigterm_stops_a_container_within_cloud_runs_grace(images, app_name) -> None:
    port = free_port()
    env = idp_env(port, "sigterm") if app_name == "idp_server" else app_env(port)
    container = run(images[app_name], port, env)
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", timeout=60)
        wrapped = container.get_wrapped_container()
        wrapped.kill(signal="SIGTERM")
        # Raises when the container is still up after Cloud Run's grace period.
        status = wrapped.wait(timeout=CLOUD_RUN_GRACE_SECONDS)
        logs = wrapped.logs().decode()
    finally:
        container.stop()
    assert status["StatusCode"] == 0, logs
    assert "Handling signal: term" in logs and "Shutting down" in logs


def test_an_idp_reachable_from_the_network_refuses_to_mint_without_a_secret(images) -> None:
    """The image listens on 0.0.0.0 by default (Cloud Run's contract); without IDP_TOKEN_SECRET
    it stops before binding anything, saying why."""
    container = run(images["idp_server"], free_port(), {"IDP_ISSUER": "https://idp.example"})
    try:
        wrapped = container.get_wrapped_container()
        status = wrapped.wait(timeout=60)
        logs = wrapped.logs().decode()
    finally:
        container.stop()
    assert status["StatusCode"] == 2
    assert "IDP_TOKEN_SECRET" in logs and "0.0.0.0" in logs
