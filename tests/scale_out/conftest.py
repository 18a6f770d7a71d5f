"""Two independent Google-side instances (two gunicorn masters, two workers each) started from
one key source and one topology, behind the test's own round-robin balancer on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mock_gcp.settings import GoogleSettings
from tests.mock_gcp.conftest import FakeIssuer, topology_yaml
from tests.mock_gcp.conftest import issuer as issuer  # the same fake OIDC issuer fixture
from tests.scale_out.balancer import RoundRobin
from wiflab_core import keys
from wiflab_core.serving import GunicornProcess, ThreadedServer
from wiflab_lab.parts import ServerOptions

WORKERS_PER_INSTANCE = 2


@dataclass
class Cluster:
    url: str  # the balancer's
    balancer: RoundRobin
    instances: list[GunicornProcess]
    key_file: Path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, issuer: FakeIssuer) -> Iterator[Cluster]:
    state = tmp_path_factory.mktemp("scale-out")
    topology = state / "wif.yaml"
    uploaded = keys.generate("RS256")  # the topology's uploaded-JWKS provider, unused here
    topology.write_text(topology_yaml(json.dumps(keys.render_jwks([uploaded.public_jwk]))))
    key_file = state / "google" / "google-keys.json"
    front = ThreadedServer()  # the balancer, once the instances are known
    # Both instances sign ID tokens as the balancer's URL, the one address clients know.
    settings = GoogleSettings(
        topology, google_issuer=front.url, idp_issuer=issuer.url, key_file=key_file
    )
    instances = [
        GunicornProcess(
            "mock_gcp.app:create_app_from_env()",
            workers=WORKERS_PER_INSTANCE,
            env=settings.to_env(),
            extra_args=ServerOptions().gunicorn_args(),
        )
        for _ in range(2)
    ]
    # Launched side by side: the key file is made once, whichever worker comes first.
    for instance in instances:
        instance.launch()
    try:
        for instance in instances:
            instance.wait_ready(60)
        balancer = front.app = RoundRobin([instance.url for instance in instances])
        with front:
            yield Cluster(front.url, balancer, instances, key_file)
    finally:
        for instance in instances:
            instance.stop()
