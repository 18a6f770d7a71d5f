"""Node's ``Impersonated.fetchIdToken`` (google-auth-library) against the stand-in.

It always sends ``useEmailAzp`` (google-auth-library-python #1263 names the same field for the
Python IAM flow): Google accepts it, so the stand-in must too. Skipped without node and
clients/node/node_modules (``cd clients/node && npm ci``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.mock_gcp.conftest import SA

NODE_MODULES = Path(__file__).resolve().parents[2] / "clients" / "node" / "node_modules"

SCRIPT = r"""
const {OAuth2Client, Impersonated} = require('google-auth-library');
const [endpoint, token, target, audience] = process.argv.slice(1);
const source = new OAuth2Client();
source.setCredentials({access_token: token, expiry_date: Date.now() + 3600 * 1000});
const client = new Impersonated({
  sourceClient: source, targetPrincipal: target, endpoint,
  targetScopes: ['https://www.googleapis.com/auth/cloud-platform'], delegates: [],
});
client.fetchIdToken(audience).then(
  (idToken) => console.log(JSON.stringify({idToken})),
  (err) => { console.log(JSON.stringify({error: String(err && err.message)})); process.exit(1); },
);
"""


@pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_MODULES / "google-auth-library").is_dir(),
    reason="node and clients/node/node_modules (npm ci) are needed",
)
def test_node_impersonated_fetch_id_token_sends_use_email_azp_and_gets_a_token(google, issuer):
    federated = google.federated_token(issuer.mint())
    audience = "https://service.example"
    run = subprocess.run(
        ["node", "-e", SCRIPT, google.url, federated, SA, audience],
        capture_output=True,
        text=True,
        timeout=60,
        env={"NODE_PATH": str(NODE_MODULES), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    token = json.loads(run.stdout)["idToken"]
    claims = google.backend.issuer.verify(token, audience=audience)
    # includeEmail defaults to true in Node, and useEmailAzp with it: azp is the email.
    assert claims["email"] == SA and claims["azp"] == SA
