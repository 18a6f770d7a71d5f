"""Seed 002: a workload's identity token from the metadata server (google-auth's compute-engine
credentials, found through GCE_METADATA_HOST), checked by a relying party against Google's certs
and admitted by the Cloud Run service its account may invoke."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from google.auth.transport.requests import Request
from google.oauth2 import id_token

from e2e.chain import token_account
from e2e.names import SERVICE, SIGNATURE_REMOVED

WORKLOAD = Path(__file__).with_name("workload.py")


@pytest.fixture
def workload(wif_stack):
    """Run the workload against the target's metadata server; its JSON report."""

    def run(audience: str) -> dict:
        host = wif_stack.endpoints.require_metadata().host
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT")
        }
        env.update(GCE_METADATA_HOST=host, GCE_METADATA_IP=host)
        done = subprocess.run(
            [sys.executable, str(WORKLOAD), audience],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run


@pytest.fixture
def metadata_account(wif_stack) -> str:
    """The account the target's metadata server acts as."""
    metadata = wif_stack.endpoints.require_metadata()
    return metadata.service_account or wif_stack.topology.local.metadata_service_account


@pytest.mark.wif_requires(metadata=True)
def test_workload_id_token_verified_by_a_relying_party_and_cloud_run(
    wif_stack, workload, metadata_account
):
    url = wif_stack.service_url(SERVICE)
    report = workload(url)

    assert report["email"] == metadata_account
    assert report["project"] == wif_stack.endpoints.project.id
    claims = id_token.verify_token(
        report["id_token"],
        Request(),
        audience=url,
        certs_url=wif_stack.endpoints.google_issuer.certs_v1,
    )
    assert claims["email"] == metadata_account
    assert token_account(wif_stack, report["access_token"]) == metadata_account

    dump = requests.get(
        f"{url}/dump", headers={"Authorization": f"Bearer {report['id_token']}"}, timeout=10
    )
    assert dump.status_code == 200, dump.text
    assert dump.json()["identity"]["claims"]["email"] == metadata_account
    assert dump.json()["headers"]["Authorization"].endswith(f".{SIGNATURE_REMOVED}")
