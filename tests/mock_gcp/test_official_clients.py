"""The official Google client libraries, pointed only at the stand-in, complete the seed flows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth import identity_pool
from google.auth.transport.requests import AuthorizedSession, Request
from google.cloud import iam_credentials_v1
from google.oauth2 import id_token

from tests.mock_gcp.conftest import AUDIENCE, CLOUD_PLATFORM, JWT_TYPE, NOBODY_SA, SA, VM_SA


def external_account(google, source: dict, impersonate: str | None = None) -> dict:
    info = {
        "type": "external_account",
        "audience": AUDIENCE,
        "subject_token_type": JWT_TYPE,
        "token_url": f"{google.url}/v1/token",
        "credential_source": source,
    }
    if impersonate:
        info["service_account_impersonation_url"] = (
            f"{google.url}/v1/projects/-/serviceAccounts/{impersonate}:generateAccessToken"
        )
    return info


@pytest.fixture
def file_source(tmp_path, issuer) -> dict:
    path = tmp_path / "oidccred.txt"
    path.write_text(issuer.mint())
    return {"file": str(path)}


def iam_client(google, credentials) -> iam_credentials_v1.IAMCredentialsClient:
    return iam_credentials_v1.IAMCredentialsClient(
        credentials=credentials, transport="rest", client_options={"api_endpoint": google.url}
    )


def test_seed_001_federated_token_to_google_id_token(google, file_source, tmp_path, monkeypatch):
    """fake token -> STS -> generateIdToken with the federated token -> verified ID token.

    As the seed's client does it: Application Default Credentials from
    GOOGLE_APPLICATION_CREDENTIALS, only the API endpoint pointed at the stand-in.
    """
    config = tmp_path / "sts-creds.json"
    config.write_text(json.dumps(external_account(google, file_source)))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(config))
    # Without it, google.auth.default() asks Cloud Resource Manager (a fixed Google URL)
    # for the project of an external account.
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-project")
    client = iam_credentials_v1.IAMCredentialsClient(
        transport="rest", client_options={"api_endpoint": google.url}
    )
    audience = "https://federated-auth-cloud-run.example.run.app"
    response = client.generate_id_token(
        name=f"projects/-/serviceAccounts/{SA}", audience=audience, include_email=True
    )
    claims = id_token.verify_token(
        response.token, Request(), audience=audience, certs_url=f"{google.url}/oauth2/v1/certs"
    )
    assert claims["email"] == SA
    assert claims["iss"] == google.url


def test_seed_004_impersonated_access_token(google, file_source):
    info = external_account(google, file_source, impersonate=SA)
    email_scope = "https://www.googleapis.com/auth/userinfo.email"
    credentials = identity_pool.Credentials.from_info(info).with_scopes(
        [CLOUD_PLATFORM, email_scope]
    )
    credentials.refresh(Request())
    assert credentials.token.startswith("ya29.c.")
    session = AuthorizedSession(credentials)
    info = session.get(
        f"{google.url}/oauth2/v3/tokeninfo", params={"access_token": credentials.token}
    ).json()
    assert info["email"] == SA  # shown: the token carries the email scope


def test_url_sourced_credentials_refresh_from_the_idp(google, issuer):
    source = {
        "url": f"{issuer.url}/token/alice",
        "format": {"type": "json", "subject_token_field_name": "id_token"},
    }
    credentials = identity_pool.Credentials.from_info(external_account(google, source))
    credentials = credentials.with_scopes([CLOUD_PLATFORM])
    credentials.refresh(Request())
    first = credentials.token
    credentials.refresh(Request())
    assert credentials.token != first
    assert google.backend.tokens.lookup(first).caller.name == "alice@domain.com"


def test_refused_exchange_surfaces_googles_error(google, tmp_path, issuer):
    path = tmp_path / "bob.txt"
    path.write_text(issuer.mint(sub="bob@domain.com", isadmin="false"))
    credentials = identity_pool.Credentials.from_info(external_account(google, {"file": str(path)}))
    credentials = credentials.with_scopes([CLOUD_PLATFORM])
    with pytest.raises(auth_exceptions.OAuthError) as raised:
        credentials.refresh(Request())
    assert "unauthorized_client" in str(raised.value)
    assert "The given credential is rejected by the attribute condition." in str(raised.value)


def test_missing_binding_surfaces_permission_denied(google, file_source):
    credentials = identity_pool.Credentials.from_info(external_account(google, file_source))
    client = iam_client(google, credentials.with_scopes([CLOUD_PLATFORM]))
    with pytest.raises(api_exceptions.Forbidden) as raised:
        client.generate_id_token(name=f"projects/-/serviceAccounts/{NOBODY_SA}", audience="a")
    assert "iam.serviceAccounts.getOpenIdToken" in str(raised.value)


def test_google_auth_compute_engine_credentials_use_the_metadata_server(google):
    """Seed 002: a workload's ID token from the metadata server, verified by a relying party."""
    host = google.url.removeprefix("http://")
    script = textwrap.dedent(
        """
        import json
        import google.auth
        from google.auth import compute_engine
        from google.auth.compute_engine import _metadata
        from google.auth.transport.requests import Request

        request = Request()
        assert _metadata.is_on_gce(request)
        access = compute_engine.Credentials()
        access.refresh(request)
        identity = compute_engine.IDTokenCredentials(
            request, target_audience="https://relying-party", use_metadata_identity_endpoint=True
        )
        identity.refresh(request)
        _, project = google.auth.default()
        print(json.dumps({"email": access.service_account_email, "access": access.token,
                          "id": identity.token, "project": project}))
        """
    )
    env = {
        **os.environ,
        "GCE_METADATA_HOST": host,
        "GCE_METADATA_IP": host,
        "GOOGLE_APPLICATION_CREDENTIALS": "",
        "GOOGLE_CLOUD_PROJECT": "",
    }
    env.pop("GOOGLE_APPLICATION_CREDENTIALS")
    env.pop("GOOGLE_CLOUD_PROJECT")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["email"] == VM_SA
    assert result["project"] == "demo-project"
    claims = id_token.verify_token(
        result["id"],
        Request(),
        audience="https://relying-party",
        certs_url=f"{google.url}/oauth2/v1/certs",
    )
    assert claims["email"] == VM_SA
    assert claims["google"]["compute_engine"]["project_id"] == "demo-project"


def test_credentials_without_scopes_are_refused_as_sts_refuses_them(google, file_source):
    """STS requires scope for external credentials; ADC supplies the client's default scopes."""
    credentials = identity_pool.Credentials.from_info(external_account(google, file_source))
    with pytest.raises(auth_exceptions.OAuthError, match="invalid_scope"):
        credentials.refresh(Request())
