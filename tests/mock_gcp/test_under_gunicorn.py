"""Google's side as processes mode serves it: gunicorn, one process whose threads share state."""

from __future__ import annotations

import json

import requests

from tests.mock_gcp.conftest import SA, topology_yaml
from wiflab_core import keys
from wiflab_core.serving import GunicornProcess


def test_exchange_then_generate_id_token_under_gunicorn(tmp_path, issuer):
    path = tmp_path / "wif.yaml"
    path.write_text(topology_yaml(json.dumps(keys.render_jwks([keys.generate().public_jwk]))))
    server = GunicornProcess(
        "mock_gcp.app:create_app_from_env()",
        workers=1,
        extra_args=["--threads", "4"],
        env={"WIFLAB_TOPOLOGY": str(path), "WIFLAB_IDP_ISSUER": issuer.url},
    )
    server.env["WIFLAB_GOOGLE_ISSUER"] = server.url
    with server:
        exchange = requests.post(
            f"{server.url}/v1/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "audience": "//iam.googleapis.com/projects/123456789012/locations/global/"
                "workloadIdentityPools/test-pool/providers/lab-idp",
                "scope": "https://www.googleapis.com/auth/cloud-platform",
                "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "subject_token": issuer.mint(),
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            },
        )
        assert exchange.status_code == 200, exchange.text
        response = requests.post(
            f"{server.url}/v1/projects/-/serviceAccounts/{SA}:generateIdToken",
            json={"audience": "https://svc", "includeEmail": True},
            headers={"Authorization": f"Bearer {exchange.json()['access_token']}"},
        )
        assert response.status_code == 200, response.text
        discovery = requests.get(f"{server.url}/.well-known/openid-configuration").json()
        assert discovery["issuer"] == server.url
