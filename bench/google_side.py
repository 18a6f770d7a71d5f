"""Google's side under gunicorn: STS exchanges/s and generateIdToken/s beside the IdP's tokens/s.

One run starts the stack in processes mode (the IdP under gunicorn with 2 workers; Google's
side under one gunicorn worker per core, its tokens sealed), then drives, with
wrk over loopback and one after the other: ``POST /token`` at the IdP, ``POST /v1/token`` at
STS (one RS256 verification per exchange, the JWKS cached), and ``:generateIdToken`` (one
RS256 signature). Raw pyjwt RS256 signing and verification on one core, timed in the same
run, are the floors the ratios are taken against.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import jwt
import requests

from bench.idp_tokens import wrk_rate
from wiflab_core.keys import generate
from wiflab_lab.stack import Stack, StackOptions

TOPOLOGY = Path(__file__).resolve().parents[1] / "wif.yaml"
SA = "oidc-federated@demo-project.iam.gserviceaccount.com"
PROVIDER = "oidc-pool-run/oidc-provider-1"
CLAIMS = {"sub": "alice@domain.com", "isadmin": "true", "mygroups": ["group1"]}


def exchange_form(stack: Stack) -> str:
    endpoints = stack.endpoints
    audience = endpoints.providers[PROVIDER].audience
    subject = requests.post(
        endpoints.require_idp().token_url, data=json.dumps({**CLAIMS, "aud": audience}), timeout=10
    ).text
    return urlencode(exchange_fields(audience, subject))


def exchange_fields(audience: str, subject: str) -> dict[str, str]:
    """An STS exchange's form fields, as google-auth sends them."""
    return {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "audience": audience,
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "subject_token": subject,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
    }


def raw_rs256_per_core(seconds: float = 1.5) -> tuple[float, float]:
    """(signs/s, verifications/s) on one core."""
    key = generate("RS256")
    public = jwt.PyJWK(dict(key.public_jwk))
    claims = {**CLAIMS, "aud": "x", "iat": 0, "exp": 2**31}
    token = key.sign(claims)
    rates = []
    for work in (
        lambda: key.sign(claims),
        lambda: jwt.decode(token, public, ["RS256"], audience="x"),
    ):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            work()
            count += 1
        rates.append(count / (time.perf_counter() - start))
    return rates[0], rates[1]


def lua_post(directory: Path, name: str, body: str, headers: dict[str, str]) -> Path:
    path = directory / f"{name}.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = [[{body}]]"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    signs, verifies = raw_rs256_per_core()
    print(f"raw pyjwt RS256 on one core: {signs:8,.0f} signs/s  {verifies:8,.0f} verifications/s")
    wrk = shutil.which("wrk")
    if wrk is None:
        print("skipped: wrk not found (apt-get install wrk)")
        return
    with tempfile.TemporaryDirectory(prefix="wiflab-bench-") as tmp:
        directory = Path(tmp)
        options = StackOptions(TOPOLOGY, directory / "state", mode="processes", port_base=0)
        with Stack(options) as stack:
            endpoints = stack.endpoints
            claims = json.dumps({**CLAIMS, "aud": endpoints.providers[PROVIDER].audience})
            exchange = exchange_form(stack)
            federated = requests.post(
                endpoints.sts.token_url,
                data=exchange,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ).json()["access_token"]
            iam = endpoints.iamcredentials.api_endpoint
            service = endpoints.services["federated-auth-cloud-run"].url
            json_type = {"Content-Type": "application/json"}
            runs = {
                "IdP POST /token": (
                    endpoints.require_idp().token_url,
                    lua_post(directory, "idp", claims, json_type),
                ),
                "STS exchange": (
                    endpoints.sts.token_url,
                    lua_post(
                        directory,
                        "sts",
                        exchange,
                        {"Content-Type": "application/x-www-form-urlencoded"},
                    ),
                ),
                "generateIdToken": (
                    f"{iam}/v1/projects/-/serviceAccounts/{SA}:generateIdToken",
                    lua_post(
                        directory,
                        "iam",
                        json.dumps({"audience": service, "includeEmail": True}),
                        {**json_type, "Authorization": f"Bearer {federated}"},
                    ),
                ),
            }
            rates = {name: wrk_rate(wrk, url, script) for name, (url, script) in runs.items()}
    idp = rates["IdP POST /token"]
    floors = {"IdP POST /token": signs, "STS exchange": verifies, "generateIdToken": signs}
    for name, rate in rates.items():
        print(
            f"{name:16} {rate:8,.0f} /s   vs IdP tokens/s {rate / idp:5.2f}x"
            f"   vs its raw crypto on one core {rate / floors[name]:5.2f}x"
        )
