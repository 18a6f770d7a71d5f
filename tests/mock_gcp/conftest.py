"""Google's side served on loopback, an OIDC issuer it trusts, and a topology to test against."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import yaml
from flask import Flask, jsonify

from mock_gcp.app import create_app
from mock_gcp.backend import GoogleBackend, LocalDeviations
from mock_gcp.topology import Topology, parse_topology
from wiflab_core import keys
from wiflab_core.serving import ThreadedServer

PROJECT_NUMBER = "123456789012"
POOL = f"projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/test-pool"
AUDIENCE = f"//iam.googleapis.com/{POOL}/providers/lab-idp"
ALICE = f"principal://iam.googleapis.com/{POOL}/subject/alice@domain.com"
SA = "federated@demo-project.iam.gserviceaccount.com"
GROUP_SA = "group-sa@demo-project.iam.gserviceaccount.com"
ORG_SA = "org-sa@demo-project.iam.gserviceaccount.com"
POOL_SA = "pool-sa@demo-project.iam.gserviceaccount.com"
DELEGATE_SA = "delegate@demo-project.iam.gserviceaccount.com"
TARGET_SA = "target@demo-project.iam.gserviceaccount.com"
NOBODY_SA = "nobody@demo-project.iam.gserviceaccount.com"
LONG_SA = "long-lived@demo-project.iam.gserviceaccount.com"
VM_SA = "vm-runner@demo-project.iam.gserviceaccount.com"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def topology_yaml(uploaded_jwks: str) -> str:
    return f"""
project: {{id: demo-project, number: "{PROJECT_NUMBER}"}}
pools:
  - id: test-pool
    providers:
      - id: lab-idp
        attributeMapping:
          google.subject: assertion.sub
          google.groups: assertion.mygroups
          attribute.isadmin: assertion.isadmin
          attribute.org_id: assertion.org_id
        attributeCondition: "attribute.isadmin == 'true'"
        oidc: {{allowedAudiences: []}}
      - id: custom-aud
        attributeMapping: {{google.subject: assertion.sub}}
        oidc: {{allowedAudiences: [my-audience]}}
      - id: off-provider
        disabled: true
        attributeMapping: {{google.subject: assertion.sub}}
        oidc: {{}}
      - id: uploaded-jwks
        attributeMapping: {{google.subject: assertion.sub}}
        oidc: {{issuerUri: "https://idp.example.com", jwksJson: '{uploaded_jwks}'}}
      - id: unreachable
        attributeMapping: {{google.subject: assertion.sub}}
        oidc: {{issuerUri: "https://127.0.0.1:9"}}
      - id: bad-condition
        attributeMapping: {{google.subject: assertion.sub}}
        attributeCondition: "assertion.tenant.startsWith('a')"
        oidc: {{}}
  - id: off-pool
    disabled: true
    providers:
      - id: lab-idp
        attributeMapping: {{google.subject: assertion.sub}}
        oidc: {{}}
serviceAccounts:
  - email: {SA}
    policy: {{bindings: [{{role: roles/iam.workloadIdentityUser, members: ["{ALICE}"]}}]}}
  - email: {GROUP_SA}
    policy:
      bindings:
        - role: roles/iam.serviceAccountTokenCreator
          members: ["principalSet://iam.googleapis.com/{POOL}/group/admins"]
  - email: {ORG_SA}
    policy:
      bindings:
        - role: roles/iam.serviceAccountOpenIdTokenCreator
          members: ["principalSet://iam.googleapis.com/{POOL}/attribute.org_id/acme"]
  - email: {POOL_SA}
    policy:
      bindings:
        - role: roles/iam.serviceAccountTokenCreator
          members: ["principalSet://iam.googleapis.com/{POOL}/*"]
  - email: {DELEGATE_SA}
    policy:
      bindings:
        - role: roles/iam.serviceAccountTokenCreator
          members: ["{ALICE}"]
  - email: {TARGET_SA}
    policy:
      bindings:
        - role: roles/iam.serviceAccountTokenCreator
          members: ["serviceAccount:{DELEGATE_SA}"]
  - email: {NOBODY_SA}
  - email: {LONG_SA}
    policy: {{bindings: [{{role: roles/iam.workloadIdentityUser, members: ["{ALICE}"]}}]}}
  - email: {VM_SA}
orgPolicy:
  allowServiceAccountCredentialLifetimeExtension: [{LONG_SA}]
local:
  metadataServiceAccount: {VM_SA}
"""


class FakeIssuer:
    """A minimal OIDC issuer (discovery + JWKS) whose tokens the tests shape freely."""

    def __init__(self) -> None:
        self.rs256 = keys.generate("RS256")
        self.es256 = keys.generate("ES256")
        self.published = [self.rs256, self.es256]
        self.server = ThreadedServer()
        self.url = self.server.url
        app = Flask("fake-issuer")

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(issuer=self.url, jwks_uri=f"{self.url}/certs")

        @app.get("/certs")
        def certs() -> Any:
            return jsonify(keys.render_jwks(k.public_jwk for k in self.published))

        @app.get("/token/<profile>")
        def profile_token(profile: str) -> Any:
            # What a url-sourced credential reads: {"id_token": ...}, fresh on every call.
            return jsonify(id_token=self.mint(sub=f"{profile}@domain.com"))

        self.server.app = app

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "alice@domain.com",
            "isadmin": "true",
            "mygroups": ["admins"],
            "org_id": "acme",
            "iat": now,
            "exp": now + 3600,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(
        self, key: keys.SigningKey | None = None, headers: dict | None = None, **claims: Any
    ) -> str:
        return (key or self.rs256).sign(self.claims(**claims), headers)


@dataclass
class Google:
    url: str
    backend: GoogleBackend
    session: requests.Session = field(default_factory=requests.Session)

    def exchange(
        self, subject_token: str, audience: str = AUDIENCE, **fields: str
    ) -> requests.Response:
        body = {
            "grant_type": TOKEN_EXCHANGE,
            "audience": audience,
            "scope": CLOUD_PLATFORM,
            "requested_token_type": ACCESS_TOKEN_TYPE,
            "subject_token": subject_token,
            "subject_token_type": JWT_TYPE,
            **fields,
        }
        return self.session.post(f"{self.url}/v1/token", data=body)

    def federated_token(self, subject_token: str, audience: str = AUDIENCE) -> str:
        response = self.exchange(subject_token, audience)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def iamcredentials(
        self, account: str, method: str, token: str | None, body: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = f"{self.url}/v1/projects/-/serviceAccounts/{account}:{method}"
        return self.session.post(url, json=body, headers=headers)


@pytest.fixture(scope="session")
def issuer() -> Iterator[FakeIssuer]:
    fake = FakeIssuer()
    with fake.server:
        yield fake


@pytest.fixture(scope="session")
def uploaded_key() -> keys.SigningKey:
    return keys.generate("RS256")


@pytest.fixture(scope="session")
def topology(uploaded_key: keys.SigningKey) -> Topology:
    import json

    jwks = json.dumps(keys.render_jwks([uploaded_key.public_jwk]))
    return parse_topology(yaml.safe_load(topology_yaml(jwks)))


# A fixed instant for the tests that run Google's side on a fake clock.
T = 1_800_000_000  # 2027-01-15T08:00:00Z

# Google's 401 for a token it does not (or no longer) know, word for word.
INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


class FakeClock:
    """A clock that stands still until told otherwise."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    """At T; a module that serves Google's side on it shadows ``google`` with
    ``serve_google(..., clock=clock)``."""
    return FakeClock(T)


def serve_google(topology: Topology, issuer_url: str, clock: Callable[[], float] = time.time):
    server = ThreadedServer()
    backend = GoogleBackend(
        topology, LocalDeviations(google_issuer=server.url, lab_idp_issuer=issuer_url), clock=clock
    )
    server.app = create_app(backend)
    return server, Google(server.url, backend)


@pytest.fixture(scope="session")
def google(topology: Topology, issuer: FakeIssuer) -> Iterator[Google]:
    server, google = serve_google(topology, issuer.url)
    with server:
        yield google
