"""The container tier: the images (the root Dockerfile's targets) built from this checkout and
run with host networking, Google's side on the host (deploy.google_side, as compose.yaml runs
it in the google image).

No Docker engine: every test here is skipped with the reason, unless WIFLAB_REQUIRE_DOCKER=1
(CI sets it) makes that a failure. BASE_IMAGE picks the base (.ci/docker-setup.sh builds one
with debootstrap, as this machine reaches no registry); else a local wiflab-base:bookworm, else
the Dockerfiles' default, python:3.12-slim.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
import requests
from docker.errors import BuildError, DockerException, ImageNotFound
from google.auth import identity_pool
from google.cloud import iam_credentials_v1
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer

from mock_gcp.topology import load_topology
from wiflab_core.endpoints import Endpoints
from wiflab_lab.stack import Stack, StackOptions

# Ryuk, testcontainers' reaper, is an image from Docker Hub, which no registry here serves;
# the fixtures below remove every container they start.
testcontainers_config.ryuk_disabled = True

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "wif.yaml"
LOCAL_BASE = "wiflab-base:bookworm"
DEFAULT_BASE = "python:3.12-slim"
# Tags of this checkout's own: one engine may serve several checkouts' test runs at once.
CHECKOUT = hashlib.sha256(str(ROOT).encode()).hexdigest()[:10]
# app -> (the Dockerfile's target, the tag built here)
TARGETS = {
    "idp_server": ("idp", f"wiflab-idp-server:test-{CHECKOUT}"),
    "protected_app": ("protected-app", f"wiflab-protected-app:test-{CHECKOUT}"),
    "google": ("google", f"wiflab-google-side:test-{CHECKOUT}"),
}
IMAGES = {app: tag for app, (_, tag) in TARGETS.items()}
SERVICE = "federated-auth-cloud-run"  # seed 001's protected service in wif.yaml
SA = "oidc-federated@demo-project.iam.gserviceaccount.com"  # and the account it impersonates
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
HEALTHY_WITHIN = 90.0
LOOPBACK = "127.0.0.1"
ADMIN_SECRET = "container-admin-secret"
# Shared by the app container and its front end: only the front end's requests are verified.
FRONT_END_SECRET = "container-front-end-secret"


@pytest.fixture(scope="session")
def engine() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except DockerException as exc:
        reason = f"no Docker engine answers ({exc})"
        if os.environ.get("WIFLAB_REQUIRE_DOCKER") == "1":
            pytest.fail(f"WIFLAB_REQUIRE_DOCKER=1, but {reason}", pytrace=False)
        pytest.skip(f"{reason}; WIFLAB_REQUIRE_DOCKER=1 makes this a failure")
    return client


def base_image(engine: docker.DockerClient) -> str:
    if os.environ.get("BASE_IMAGE"):
        return os.environ["BASE_IMAGE"]
    try:
        engine.images.get(LOCAL_BASE)
        return LOCAL_BASE
    except ImageNotFound:
        return DEFAULT_BASE


@pytest.fixture(scope="session")
def images(engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every image, built once per session; pytest-xdist workers take turns (the second finds
    every layer cached)."""
    base = base_image(engine)
    lock = tmp_path_factory.getbasetemp().parent / "wiflab-container-images.lock"
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        for target, tag in TARGETS.values():
            try:
                engine.images.build(
                    path=str(ROOT),
                    target=target,
                    tag=tag,
                    buildargs={"BASE_IMAGE": base},
                    rm=True,
                    forcerm=True,
                )
            except BuildError as exc:
                log = "".join(chunk.get("stream", "") for chunk in exc.build_log)
                pytest.fail(f"target {target} (BASE_IMAGE={base}) did not build:\n{log[-3000:]}")
    return IMAGES


def free_port() -> int:
    """A port the kernel just handed out: with host networking the container binds it."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def health(container: DockerContainer) -> str:
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    return wrapped.attrs["State"].get("Health", {}).get("Status", "none")


def wait_healthy(container: DockerContainer, timeout: float = HEALTHY_WITHIN) -> None:
    """Docker's own HEALTHCHECK verdict, polled until healthy (bounded)."""
    deadline = time.monotonic() + timeout
    while (status := health(container)) != "healthy":
        if status == "unhealthy" or container.get_wrapped_container().status == "exited":
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if status != "healthy":
        out, err = container.get_logs()
        pytest.fail(f"container {status}, not healthy:\n{(out + err).decode()[-3000:]}")


@dataclass
class Running:
    container: DockerContainer
    url: str
    port: int


def run(
    image: str,
    port: int,
    env: dict[str, str],
    command: str | None = None,
    read_only: dict[str, str] | None = None,
) -> DockerContainer:
    """``read_only``: host directory -> where the container sees it (a mounted secret)."""
    container = (
        DockerContainer(image).with_kwargs(network_mode="host").with_envs(PORT=str(port), **env)
    )
    if command:
        container.with_command(command)
    for host, inside in (read_only or {}).items():
        container.with_volume_mapping(host, inside, "ro")
    return container.start()


def idp_env(port: int, admin_secret: str) -> dict[str, str]:
    """The IdP on loopback only (nothing that mints binds beyond it here), issuer its URL."""
    return {
        "IDP_BIND_HOST": LOOPBACK,
        "IDP_ISSUER": f"http://{LOOPBACK}:{port}",
        "IDP_PROFILES": json.dumps(load_topology(EXAMPLE).idp.plain()),
        "IDP_ADMIN_SECRET": admin_secret,
    }


def app_env(port: int) -> dict[str, str]:
    """Loopback only, and Cloud Run's own variables: the app trusts its front end's check
    (and, by the secret they share, only its front end's)."""
    return {
        "GUNICORN_CMD_ARGS": f"--bind={LOOPBACK}:{port}",
        "PROTECTED_APP_FRONT_END_SECRET": FRONT_END_SECRET,
        "K_SERVICE": SERVICE,
        "K_REVISION": f"{SERVICE}-00001-ctr",
        "K_CONFIGURATION": SERVICE,
    }


def call_dump_as_seed_001(endpoints: Endpoints) -> requests.Response:
    """Seed 001 through the official clients: the subject token file -> STS -> generateIdToken
    with the federated token -> the Cloud Run front end's /dump."""
    path = endpoints.credentials["oidc-pool-run.oidc-provider-1.file"]
    credentials = identity_pool.Credentials.from_file(path, scopes=[CLOUD_PLATFORM])
    client = iam_credentials_v1.IAMCredentialsClient(
        credentials=credentials,
        transport="rest",
        client_options={"api_endpoint": endpoints.iamcredentials.api_endpoint},
    )
    service_url = endpoints.services[SERVICE].url
    token = client.generate_id_token(
        name=f"projects/-/serviceAccounts/{SA}", audience=service_url, include_email=True
    ).token
    return requests.get(
        f"{service_url}/dump", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


@dataclass
class Lab:
    idp: Running
    app: Running


@pytest.fixture(scope="module")
def lab(images: dict[str, str]) -> Iterator[Lab]:
    """The IdP and the app containers, started side by side, each healthy by its HEALTHCHECK."""
    idp_port, app_port = free_port(), free_port()
    started: list[DockerContainer] = []
    try:
        started.append(run(images["idp_server"], idp_port, idp_env(idp_port, ADMIN_SECRET)))
        started.append(run(images["protected_app"], app_port, app_env(app_port)))
        for container in started:
            wait_healthy(container)
        idp, app = (
            Running(c, f"http://{LOOPBACK}:{port}", port)
            for c, port in zip(started, (idp_port, app_port), strict=True)
        )
        yield Lab(idp, app)
    finally:
        for container in started:
            container.stop()


@pytest.fixture(scope="module")
def google_side(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack with the IdP and the app in their containers: it serves the rest."""
    options = StackOptions(
        EXAMPLE,
        tmp_path_factory.mktemp("google-side"),
        port_base=0,
        idp_url=lab.idp.url,
        app_urls={SERVICE: lab.app.url},
        app_secrets={SERVICE: FRONT_END_SECRET},
        admin_secret=ADMIN_SECRET,
    )
    with Stack(options) as side:
        yield side
