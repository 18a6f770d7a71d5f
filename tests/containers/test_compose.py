"""compose.yaml runs wif.yaml's stack on `wiflab up`'s ports: the services, ports and
upstreams it names agree with the topology and with wiflab_lab.stack's port layout, and the
builds name Dockerfiles that exist. (Static checks: no engine needed.)"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from mock_gcp.topology import load_topology
from tests.containers.conftest import EXAMPLE, ROOT
from wiflab_lab.stack import DEFAULT_PORT_BASE

COMPOSE = ROOT / "compose.yaml"


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


def test_the_builds_name_dockerfiles_here(compose) -> None:
    builds = [s["build"] for s in compose.values() if "build" in s]
    assert {b["dockerfile"] for b in builds} == {
        "idp_server/Dockerfile",
        "protected_app/Dockerfile",
    }
    assert all((ROOT / b["context"] / b["dockerfile"]).is_file() for b in builds)


def test_docker_compose_accepts_the_file(tmp_path) -> None:
    compose_cli = shutil.which("docker-compose")
    if compose_cli is None:
        pytest.skip("docker-compose is not installed")
    result = subprocess.run(
        [compose_cli, "--file", str(COMPOSE), "config", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
