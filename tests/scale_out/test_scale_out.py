"""Scale-out, locally: full chains through the official clients across two independent
Google-side instances, each hop on a different instance; a worker killed mid-run fails no chain.

The chain: a url-sourced external account impersonating DELEGATE_SA (google-auth: STS, then
generateAccessToken), with that access token an ID token for TARGET_SA (google-cloud-iam over
REST), verified against the issuer's certs (google-auth), and tokeninfo on the access token.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from pathlib import Path

import requests
from google.auth import identity_pool
from google.auth.transport.requests import Request
from google.cloud import iam_credentials_v1
from google.oauth2 import id_token

from tests.mock_gcp.conftest import AUDIENCE, CLOUD_PLATFORM, DELEGATE_SA, JWT_TYPE, TARGET_SA
from tests.scale_out.conftest import WORKERS_PER_INSTANCE, Cluster

ROUNDS = 8
RELYING_PARTY = "https://relying-party.example"
EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"


def credentials(cluster: Cluster, issuer_url: str) -> identity_pool.Credentials:
    info = {
        "type": "external_account",
        "audience": AUDIENCE,
        "subject_token_type": JWT_TYPE,
        "token_url": f"{cluster.url}/v1/token",
        "service_account_impersonation_url": (
            f"{cluster.url}/v1/projects/-/serviceAccounts/{DELEGATE_SA}:generateAccessToken"
        ),
        "credential_source": {
            # alice@domain.com, whom DELEGATE_SA lets mint its tokens: fresh on every refresh.
            "url": f"{issuer_url}/token/alice",
            "format": {"type": "json", "subject_token_field_name": "id_token"},
        },
    }
    return identity_pool.Credentials.from_info(info).with_scopes([CLOUD_PLATFORM, EMAIL_SCOPE])


def refreshed(cluster: Cluster, issuer_url: str) -> identity_pool.Credentials:
    """Hops 1-2: STS, then generateAccessToken with the federated token."""
    creds = credentials(cluster, issuer_url)
    creds.refresh(Request())
    return creds


def use(cluster: Cluster, creds: identity_pool.Credentials) -> dict:
    """Hops 3-5: generateIdToken with the access token, the certs, tokeninfo."""
    client = iam_credentials_v1.IAMCredentialsClient(
        credentials=creds, transport="rest", client_options={"api_endpoint": cluster.url}
    )
    response = client.generate_id_token(
        name=f"projects/-/serviceAccounts/{TARGET_SA}", audience=RELYING_PARTY, include_email=True
    )
    claims = id_token.verify_token(
        response.token,
        Request(),
        audience=RELYING_PARTY,
        certs_url=f"{cluster.url}/oauth2/v3/certs",
    )
    info = requests.get(
        f"{cluster.url}/oauth2/v3/tokeninfo", params={"access_token": creds.token}, timeout=30
    )
    assert info.status_code == 200, info.text
    assert info.json()["email"] == DELEGATE_SA
    return claims


def test_each_hop_of_a_chain_lands_on_another_instance(cluster: Cluster, issuer) -> None:
    for _ in range(3):
        start = len(cluster.balancer.hops)
        claims = use(cluster, refreshed(cluster, issuer.url))
        assert claims["email"] == TARGET_SA
        assert claims["iss"] == cluster.url
        hops = cluster.balancer.hops[start:]
        paths = [hop.path.rpartition(":")[2] for hop in hops]
        assert paths == [
            "/v1/token",
            "generateAccessToken",
            "generateIdToken",
            "/oauth2/v3/certs",
            "/oauth2/v3/tokeninfo",
        ]
        assert all(hop.status == 200 for hop in hops)
        instances = [hop.instance for hop in hops]
        # Every token was used on the instance that did not issue it.
        assert all(a != b for a, b in itertools.pairwise(instances)), instances


def _workers(instance) -> set[int]:
    pid = instance.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def test_a_worker_killed_mid_run_fails_no_chain(cluster: Cluster, issuer) -> None:
    failures: list[BaseException] = []
    completed: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()

    def chains(client: int) -> None:
        try:
            # Tokens issued before the kill (possibly by the worker that dies) are used after.
            creds = refreshed(cluster, issuer.url)
            for round_ in range(ROUNDS):
                # The kill comes while the others are mid-chain; the last rounds follow it.
                if round_ == ROUNDS - 2:
                    killed.wait(60)
                use(cluster, creds)
                # A new federated and access token on every second round, mid-kill too.
                if round_ % 2:
                    creds = refreshed(cluster, issuer.url)
                with lock:
                    completed.append(f"{client}.{round_}")
        except BaseException as exc:
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=chains, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    while len(completed) < 8 and not failures and any(t.is_alive() for t in threads):
        time.sleep(0.01)
    victim_instance = cluster.instances[0]
    before = _workers(victim_instance)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    killed.set()
    for thread in threads:
        thread.join(120)
    assert failures == []
    assert len(completed) == 4 * ROUNDS
    # The master replaced the worker: the instance serves on with a new one.
    after = _workers(victim_instance)
    assert victim not in after
    assert len(after) == WORKERS_PER_INSTANCE
    print(f"requests passed on by the balancer after the kill: {cluster.balancer.passed_on}")
