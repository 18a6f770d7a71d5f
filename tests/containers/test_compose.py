"""compose.yaml runs wif.yaml's stack on `wiflab up`'s ports: the services, ports and
upstreams it names agree with the topology and with wiflab_lab.stack's port layout, and the
builds name targets of the Dockerfile (static checks: no engine needed). Then Compose itself
reads the file and brings the whole stack up, its ports moved off `wiflab up`'s, and seed 001
runs through it (no Compose: skipped, unless WIFLAB_REQUIRE_DOCKER=1 makes that a failure)."""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from deploy.source_tag import shipped
from mock_gcp.topology import load_topology
from tests.containers.conftest import (
    CHECKOUT,
    EXAMPLE,
    LOOPBACK,
    ROOT,
    SA,
    SERVICE,
    base_image,
    call_dump_as_seed_001,
)
from wiflab_core.endpoints import load as load_endpoints
from wiflab_lab.stack import DEFAULT_PORT_BASE

COMPOSE = ROOT / "compose.yaml"
PORTS_USED = 13  # the IdP, Google's side, and wif.yaml's two services: base .. base + 12
UP_WITHIN = 180.0


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def flag(command: list[str], name: str) -> list[str]:
    return [arg.split("=", 1)[1] for arg in command if arg.startswith(f"--{name}=")]


def test_the_ports_are_wiflab_ups(compose) -> None:
    topology = load_topology(EXAMPLE)
    google = compose["google"]["command"]
    assert flag(google, "port-base") == [str(DEFAULT_PORT_BASE)]
    assert compose["google"]["environment"]["PORT"] == str(DEFAULT_PORT_BASE + 1)
    assert compose["idp"]["environment"]["PORT"] == str(DEFAULT_PORT_BASE)
    assert flag(google, "idp-url") == [f"http://127.0.0.1:{DEFAULT_PORT_BASE}"]
    # Each app sits where wiflab up puts it: base + 11 + 2 x the service's index.
    apps = {
        s.name: f"http://127.0.0.1:{DEFAULT_PORT_BASE + 11 + 2 * i}"
        for i, s in enumerate(topology.services)
        if s.app == "protected_app"
    }
    assert dict(a.split("=", 1) for a in flag(google, "app")) == apps
    (app_url,) = apps.values()
    assert compose["protected-app"]["environment"]["GUNICORN_CMD_ARGS"] == (
        f"--bind={app_url.removeprefix('http://')}"
    )
    assert compose["protected-app"]["environment"]["K_SERVICE"] in apps


def test_everything_stays_on_loopback_with_host_networking(compose) -> None:
    assert {s["network_mode"] for s in compose.values()} == {"host"}
    assert compose["idp"]["environment"]["IDP_BIND_HOST"] == "127.0.0.1"


def test_the_builds_name_targets_of_the_dockerfile(compose) -> None:
    builds = {name: s["build"] for name, s in compose.items()}
    assert {name: b["target"] for name, b in builds.items()} == {
        "google": "google",
        "idp": "idp",
        "protected-app": "protected-app",
    }
    for build in builds.values():
        assert "dockerfile" not in build  # the root Dockerfile, Compose's default
        assert (ROOT / build["context"] / "Dockerfile").is_file()
        assert shipped(ROOT / build["context"], build["target"])


def compose_command() -> list[str]:
    """Compose v1 (Debian bookworm's docker-compose) or v2 (the `docker compose` plugin)."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        plugin = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if plugin.returncode == 0:
            return ["docker", "compose"]
    reason = "Compose is not installed (docker-compose or the docker compose plugin)"
    if os.environ.get("WIFLAB_REQUIRE_DOCKER") == "1":
        pytest.fail(f"WIFLAB_REQUIRE_DOCKER=1, but {reason}", pytrace=False)
    pytest.skip(f"{reason}; WIFLAB_REQUIRE_DOCKER=1 makes this a failure")


def test_docker_compose_accepts_the_file(tmp_path) -> None:
    result = subprocess.run(
        [*compose_command(), "--file", str(COMPOSE), "config", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def free_port_block(size: int) -> int:
    """A base port with `size` free ports above it, below the kernel's ephemeral range (where
    every other test's port 0 lands) and away from `wiflab up`'s 8700s."""
    for _ in range(200):
        base = random.randrange(20000, 32000 - size)
        try:
            for port in range(base, base + size):
                with socket.socket() as sock:
                    sock.bind((LOOPBACK, port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no {size} free ports in a row")


def moved(text: str, base: int) -> str:
    """compose.yaml with every port of `wiflab up`'s layout (8700 + offset) moved to base."""
    return re.sub(rf"\b{DEFAULT_PORT_BASE // 100}(\d\d)\b", lambda m: str(base + int(m[1])), text)


def wait_for_file(path: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not path.is_file():
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


@pytest.fixture(scope="module")
def compose_up(images, engine, tmp_path_factory) -> Iterator[Path]:
    """`compose up --build` of compose.yaml, its ports moved to a free block; yields the state
    dir once Google's side has written endpoints.json (every upstream answered)."""
    command = compose_command()
    base = free_port_block(PORTS_USED)
    work = tmp_path_factory.mktemp("compose")
    (work / "state").mkdir()
    # Its own image tags too: another checkout's run may build compose.yaml's at the same time.
    text = moved(COMPOSE.read_text(), base).replace(":local\n", f":compose-{CHECKOUT}\n")
    (work / "compose.yaml").write_text(text)
    env = {
        **os.environ,
        "PWD": str(work),  # compose.yaml mounts ${PWD}/state
        "BASE_IMAGE": base_image(engine),  # the images fixture's: every layer is cached
        "WIFLAB_UID": str(os.getuid()),
        "WIFLAB_GID": str(os.getgid()),
    }
    project = [
        *command,
        "--project-name",
        f"wiflab-test-{CHECKOUT}-{os.getpid()}",
        "--project-directory",
        str(ROOT),
        "--file",
        str(work / "compose.yaml"),
    ]

    def compose_run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*project, *args], cwd=work, env=env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip

    try:
        up = compose_run("up", "--build", "--detach")
        assert up.returncode == 0, up.stderr[-3000:]
        if not wait_for_file(work / "state" / "endpoints.json", UP_WITHIN):
            logs = compose_run("logs", "--no-color", timeout=60)
            pytest.fail(f"no endpoints.json within {UP_WITHIN:.0f} s:\n{logs.stdout[-4000:]}")
        yield work / "state"
    finally:
        compose_run("down", "--volumes", "--rmi", "all", "--timeout", "10", timeout=120)


def test_compose_up_serves_seed_001_from_its_containers(compose_up) -> None:
    endpoints = load_endpoints(compose_up / "endpoints.json")
    response = call_dump_as_seed_001(endpoints)
    assert response.status_code == 200, response.text
    dump = response.json()
    assert dump["identity"]["claims"]["email"] == SA
    # The app read the secret it shares with its front end from the state the google side wrote.
    assert dump["identity"]["verified"] is True
    assert dump["cloud_run"]["K_SERVICE"] == SERVICE  # answered by the app container
