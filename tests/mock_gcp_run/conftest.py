"""Fixtures: a Google issuer key, the dump and echo apps upstream, front ends on loopback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from mock_gcp.run.front_end import create_app
from mock_gcp.topology import Binding, Policy, Service
from protected_app.app import create_app as create_dump_app
from protected_app.settings import Settings
from tests.mock_gcp_run.helpers import CALLER, CUSTOM_AUDIENCE, GOOGLE_ISSUER, EchoUpstream
from wiflab_core.keys import SigningKey, VerificationKeys, generate, render_jwks
from wiflab_core.serving import ThreadedServer

INVOKER_POLICY = Policy((Binding("roles/run.invoker", (f"serviceAccount:{CALLER}",)),))


def service(**overrides: Any) -> Service:
    fields: dict[str, Any] = {
        "name": "dump",
        "app": "protected_app",
        "allow_unauthenticated": False,
        "custom_audiences": (CUSTOM_AUDIENCE,),
        "policy": INVOKER_POLICY,
    }
    return Service(**{**fields, **overrides})


@dataclass
class FrontEndServer:
    url: str
    google_key: SigningKey
    policies: list[tuple[str, Policy]] = field(default_factory=list)

    def token(self, claims: dict[str, Any], key: SigningKey | None = None) -> str:
        return (key or self.google_key).sign(claims)


@pytest.fixture(scope="session")
def google_key() -> SigningKey:
    return generate("RS256")


@pytest.fixture(scope="session")
def dump_url(running_servers: list[ThreadedServer]) -> str:
    """The real dump service, as deployed on Cloud Run (K_SERVICE set: cloud-run mode)."""
    app = create_dump_app(Settings.from_env({"K_SERVICE": "dump", "K_REVISION": "dump-00001"}))
    server = ThreadedServer(app).start()
    running_servers.append(server)
    return server.url


@pytest.fixture(scope="session")
def echo(running_servers: list[ThreadedServer]) -> tuple[EchoUpstream, str]:
    upstream = EchoUpstream()
    server = ThreadedServer(upstream.app).start()
    running_servers.append(server)
    return upstream, server.url


StartFrontEnd = Callable[..., FrontEndServer]


@pytest.fixture
def start_front_end(
    google_key: SigningKey, dump_url: str, running_servers: list[ThreadedServer]
) -> StartFrontEnd:
    """A front end for a service (default: private, one invoker) in front of an upstream."""
    keys = VerificationKeys(render_jwks([google_key.public_jwk]))

    def start(
        svc: Service | None = None,
        upstream: str | None = None,
        email_for_unique_id: Callable[[str], str | None] | None = None,
        app_secret: str = "",
    ) -> FrontEndServer:
        svc = svc or service()
        holder: dict[str, Any] = {}
        # The service URL (the audience) is the front end's own, known once it is bound.
        server = ThreadedServer(lambda environ, start: holder["app"](environ, start))
        front = FrontEndServer(server.url, google_key, [("projects/p/services/dump", svc.policy)])
        holder["app"] = create_app(
            svc,
            service_url=server.url,
            upstream_url=upstream or dump_url,
            google_keys=keys.get,
            google_issuers=(GOOGLE_ISSUER, "https://accounts.google.com"),
            policy_for_invoke=lambda: front.policies,
            email_for_unique_id=email_for_unique_id,
            app_secret=app_secret,
        )
        running_servers.append(server.start())
        return front

    return start
