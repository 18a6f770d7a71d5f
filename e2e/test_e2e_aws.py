"""Seed 004's AWS flows end to end: google-auth's ``aws.Credentials`` (loaded from the config
gcloud's ``create-cred-config --aws`` writes) signs GetCallerIdentity with the keys of an IAM
user (from the environment) or of an EC2 instance's role (from the IMDSv2); Google's STS
executes it at the local AWS STS; the federated token, directly or through impersonation,
mints an ID token; the private Cloud Run service's /dump shows who called.

Then the refusals, each with Google's text (or the unverified text the README lists), and
hypothesis over the serialized request: never a 5xx, always Google's error JSON."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import google.auth
import pytest
import requests
from google.auth import _helpers
from google.auth import aws as google_aws
from google.auth.transport.requests import Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e2e.names import SERVICE
from wiflab_lab.demo.aws_signing import AWS_ENV

STEM = "aws-pool-1.aws-provider-1"
PROVIDER = "aws-pool-1/aws-provider-1"
AWS_SA = "aws-federated"
USER = "arn:aws:iam::111122223333:user/svcacct1"
ROLE = "arn:aws:sts::111122223333:assumed-role/ec2role/i-01eb8a107a2026dcd"
INTERN = "arn:aws:iam::111122223333:user/intern"
OUTSIDER = "arn:aws:iam::444455556666:user/outsider"


@pytest.fixture
def aws(wif_stack: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    if wif_stack.target != "local" or wif_stack.endpoints.aws is None:
        pytest.skip("needs the local AWS side (local.aws identities)")
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    return wif_stack.endpoints.aws


def as_identity(monkeypatch: pytest.MonkeyPatch, aws: Any, arn: str) -> None:
    """The environment an IAM user's workload runs with: its keys and a region."""
    keys = aws.identities[arn]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys.secret_access_key)
    if keys.session_token:
        monkeypatch.setenv("AWS_SESSION_TOKEN", keys.session_token)
    monkeypatch.setenv("AWS_REGION", "us-east-1")


def load(wif_stack: Any, name: str) -> Any:
    """google-auth's credentials from the ready-made config, as ADC would load them."""
    path = wif_stack.endpoints.credentials[f"{STEM}.{name}"]
    # Scopes after loading: with scopes, google-auth asks Cloud Resource Manager for the
    # project at load time.
    credentials, _ = google.auth.load_credentials_from_file(path)
    return credentials.with_scopes(["https://www.googleapis.com/auth/cloud-platform"])


def dump_as(wif_stack: Any, credentials: Any) -> requests.Response:
    """An ID token of aws-federated minted with ``credentials``, sent to the service's /dump."""
    url = wif_stack.service_url(SERVICE)
    account = wif_stack.account(AWS_SA)
    token = (
        wif_stack.iam_client(credentials)
        .generate_id_token(
            name=f"projects/-/serviceAccounts/{account}", audience=url, include_email=True
        )
        .token
    )
    return requests.get(f"{url}/dump", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def federated_principal(wif_stack: Any, credentials: Any) -> str:
    """Whom Google's STS made of the caller: its federated token's principal (introspection)."""
    credentials.refresh(Request())
    body = requests.post(
        wif_stack.endpoints.sts.token_url.removesuffix("/token") + "/introspect",
        data={"token": credentials.token, "client_id": "e2e"},
        timeout=10,
    ).json()
    return body["username"]


@pytest.mark.parametrize(
    ("arn", "source"),
    [pytest.param(USER, "aws-env", id="user-env"), pytest.param(ROLE, "aws-imds", id="role-imds")],
)
@pytest.mark.parametrize("impersonated", [True, False], ids=["impersonated", "federated"])
def test_seed_004_aws_flow_reaches_dump(
    wif_stack: Any, aws: Any, monkeypatch: pytest.MonkeyPatch, arn: str, source: str,
    impersonated: bool,
) -> None:  # fmt: skip
    if source == "aws-env":
        as_identity(monkeypatch, aws, arn)  # the role's keys come from the IMDS instead
    name = f"{source}.{AWS_SA}" if impersonated else source
    credentials = load(wif_stack, name)
    assert type(credentials).__module__ == "google.auth.aws"

    dump = dump_as(wif_stack, credentials)

    assert dump.status_code == 200, dump.text
    identity = dump.json()["identity"]
    assert identity["verified"] is True
    assert identity["claims"]["email"] == wif_stack.account(AWS_SA)
    if not impersonated:
        number = wif_stack.endpoints.project.number
        pool = f"projects/{number}/locations/global/workloadIdentityPools/aws-pool-1"
        assert federated_principal(wif_stack, load(wif_stack, source)) == (
            f"principal://iam.googleapis.com/{pool}/subject/{arn}"
        )


# -- refusals --------------------------------------------------------------------------------


def exchange(wif_stack: Any, subject_token: str, audience: str | None = None) -> requests.Response:
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "audience": audience or wif_stack.audience(PROVIDER),
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "subject_token": subject_token,
        "subject_token_type": "urn:ietf:params:aws:token-type:aws4_request",
    }
    return requests.post(wif_stack.endpoints.sts.token_url, data=form, timeout=30)


def signed_from_env(wif_stack: Any, info: dict | None = None, **source: Any) -> str:
    """The subject token google-auth makes from the aws-env config (changed by ``info`` and
    ``source``) with the keys in the environment."""
    config = json.loads(Path(wif_stack.endpoints.credentials[f"{STEM}.aws-env"]).read_text())
    config.update(info or {})
    config["credential_source"].update(source)
    return google_aws.Credentials.from_info(config).retrieve_subject_token(Request())


def signed(
    wif_stack: Any, monkeypatch: pytest.MonkeyPatch, aws: Any, arn: str, **change: Any
) -> str:
    """The subject token google-auth makes for ``arn`` (its keys in the environment)."""
    as_identity(monkeypatch, aws, arn)
    return signed_from_env(wif_stack, **change)


def refusal(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def edited(token: str, **fields: Any) -> str:
    doc = json.loads(unquote(token))
    doc.update(fields)
    return quote(json.dumps(doc))


def test_a_bad_signature(wif_stack, aws, monkeypatch):
    token = signed(wif_stack, monkeypatch, aws, USER)
    doc = json.loads(unquote(token))
    for header in doc["headers"]:
        if header["key"] == "Authorization":
            header["value"] = header["value"][:-4] + "0000"
    assert refusal(exchange(wif_stack, quote(json.dumps(doc)))) == (
        400,
        "invalid_grant",
        "Received invalid AWS response of type SignatureDoesNotMatch with error message: The "
        "request signature we calculated does not match the signature you provided. Check your "
        "AWS Secret Access Key and signing method. Consult the service documentation for details.",
    )


def test_a_wrong_secret_key(wif_stack, aws, monkeypatch):
    as_identity(monkeypatch, aws, USER)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    token = signed_from_env(wif_stack)
    status, code, text = refusal(exchange(wif_stack, token))
    assert (status, code) == (400, "invalid_grant")
    assert text.startswith("Received invalid AWS response of type SignatureDoesNotMatch")


def test_a_wrong_region_host(wif_stack, aws, monkeypatch):
    """Signed for a host that is no AWS STS endpoint."""
    url = "https://sts.{region}.amazonaws.example?Action=GetCallerIdentity&Version=2011-06-15"
    token = signed(wif_stack, monkeypatch, aws, USER, regional_cred_verification_url=url)
    assert refusal(exchange(wif_stack, token)) == (
        400,
        "invalid_grant",
        "AWS request has invalid format.",
    )


def test_a_region_aws_does_not_have(wif_stack, aws, monkeypatch):
    """An AWS-shaped host of a region that does not exist: it resolves nowhere."""
    as_identity(monkeypatch, aws, USER)
    monkeypatch.setenv("AWS_REGION", "xx-nowhere-9")
    token = signed_from_env(wif_stack)
    assert refusal(exchange(wif_stack, token)) == (400, "invalid_grant", "Error connecting to AWS.")


def test_an_expired_date(wif_stack, aws, monkeypatch):
    """Signed an hour ago (AWS allows 15 minutes): AWS refuses, Google passes its words on."""
    hour_ago = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(
        hours=1
    )
    monkeypatch.setattr(_helpers, "utcnow", lambda: hour_ago)
    token = signed(wif_stack, monkeypatch, aws, USER)
    monkeypatch.undo()
    status, code, text = refusal(exchange(wif_stack, token))
    assert (status, code) == (400, "invalid_grant")
    assert text.startswith(
        "Received invalid AWS response of type SignatureDoesNotMatch with error message: "
        "Signature expired: "
    ), text


@pytest.mark.parametrize(
    ("arn", "audience", "expected"),
    [
        pytest.param(
            USER,
            "oidc-pool-run/oidc-provider-1",
            (
                400,
                "invalid_grant",
                "The x-goog-cloud-target-resource header of the AWS request does not match the "
                "audience.",
            ),
            id="wrong-target-resource",
        ),
        pytest.param(
            OUTSIDER,
            None,
            (
                400,
                "invalid_grant",
                "The AWS account 444455556666 of the caller is not the provider's account.",
            ),
            id="another-account",
        ),
        pytest.param(
            INTERN,
            None,
            (
                400,
                "unauthorized_client",
                "The given credential is rejected by the attribute condition.",
            ),
            id="condition-false",
        ),
    ],
)
def test_refused_callers(wif_stack, aws, monkeypatch, arn, audience, expected):
    """Signed for ``audience`` (the config's own when None), exchanged at aws-provider-1."""
    info = {"audience": wif_stack.audience(audience)} if audience else {}
    token = signed(wif_stack, monkeypatch, aws, arn, info=info)
    assert refusal(exchange(wif_stack, token)) == expected


# -- hypothesis ------------------------------------------------------------------------------

_text = st.text(max_size=30)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


@pytest.fixture
def good_request(wif_stack: Any, aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    yield json.loads(unquote(signed(wif_stack, monkeypatch, aws, USER)))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_serialized_request_gets_googles_error_json(wif_stack, good_request, data):
    doc = json.loads(json.dumps(good_request))
    key = data.draw(st.sampled_from(["url", "method", "headers", "body", "extra"]))
    if key == "headers" and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(doc["headers"]) - 1))
        doc["headers"][i]["value"] = data.draw(_text)
    else:
        doc[key] = data.draw(_json)
    response = exchange(wif_stack, quote(json.dumps(doc)))
    assert response.status_code < 500, response.text
    body = response.json()
    if response.status_code != 200:
        assert set(body) == {"error", "error_description"}


# -- the Node sample -------------------------------------------------------------------------

NODE_CLIENT = Path(__file__).resolve().parents[1] / "clients" / "node"


def run_node_sample(
    wif_stack: Any, tmp_path: Path, config: str, environ: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """clients/node/aws.js with the credential config ``STEM.config`` (skipped without node)."""
    if shutil.which("node") is None or not (NODE_CLIENT / "node_modules").is_dir():
        pytest.skip("the node client needs node and clients/node/node_modules (npm ci)")
    endpoints_path = tmp_path / "endpoints.json"
    wif_stack.endpoints.write(endpoints_path)
    env = {
        **environ,
        "GOOGLE_APPLICATION_CREDENTIALS": wif_stack.endpoints.credentials[f"{STEM}.{config}"],
        "WIF_SERVICE_ACCOUNT": wif_stack.account(AWS_SA),
        "WIF_SERVICE_URL": wif_stack.service_url(SERVICE),
        "WIFLAB_ENDPOINTS": str(endpoints_path),
    }
    return subprocess.run(
        ["node", str(NODE_CLIENT / "aws.js")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("arn", "config"),
    [
        pytest.param(USER, f"aws-env.{AWS_SA}", id="user-env-impersonated"),
        pytest.param(USER, "aws-env", id="user-env-federated"),
        # Not the EC2 role: google-auth-library 10.x reads the IMDS's credentials as JSON only
        # when they are served as application/json; EC2's IMDS, and the lab's, serve text/plain
        # (test_node_aws_client_on_an_ec2_role_fails_as_on_real_ec2).
    ],
)
def test_node_aws_client_completes_the_chain(wif_stack, aws, monkeypatch, tmp_path, arn, config):
    if config.startswith("aws-env"):
        as_identity(monkeypatch, aws, arn)
    ran = run_node_sample(wif_stack, tmp_path, config, dict(os.environ))
    assert ran.returncode == 0, ran.stderr
    dump = json.loads(ran.stdout.split("==\n", 1)[1])
    assert dump["identity"]["claims"]["email"] == wif_stack.account(AWS_SA)


def test_node_aws_client_on_an_ec2_role_fails_as_on_real_ec2(wif_stack, tmp_path):
    """EC2's instance metadata serves the role's credentials as JSON with Content-Type
    text/plain, as the lab's IMDS does; google-auth-library 10.x (gaxios 7) no longer asks for
    JSON, so it reads them as a string and signs with ``Credential=undefined/...``
    (googleapis/google-auth-library-nodejs#2139). The stand-in reproduces the client's bug
    rather than hiding it: AWS refuses the signature and STS says so."""
    no_aws_keys = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    ran = run_node_sample(wif_stack, tmp_path, "aws-imds", no_aws_keys)
    assert ran.returncode != 0
    assert "==\n" not in ran.stdout  # no /dump
    said = ran.stdout + ran.stderr
    assert "Received invalid AWS response of type InvalidClientTokenId" in said
    assert "The security token included in the request is invalid." in said  # AWS's words
