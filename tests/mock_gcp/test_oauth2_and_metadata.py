"""Google's issuer endpoints and the metadata server's HTTP contract."""

from __future__ import annotations

import jwt
import pytest
import requests
from cryptography.x509 import load_pem_x509_certificate

from tests.mock_gcp.conftest import SA, VM_SA

FLAVOR = {"Metadata-Flavor": "Google"}
IDENTITY = "/computeMetadata/v1/instance/service-accounts/default/identity"


@pytest.fixture(scope="module")
def id_token(google) -> str:
    account = google.backend.topology.service_account(SA)
    return google.backend.issuer.id_token(account, "https://svc", include_email=True)


def test_discovery_points_at_the_certs(google):
    doc = requests.get(f"{google.url}/.well-known/openid-configuration").json()
    assert doc["issuer"] == google.url
    jwks = requests.get(doc["jwks_uri"]).json()
    assert [k["alg"] for k in jwks["keys"]] == ["RS256"]


def test_v1_certs_are_x509_for_the_same_kids(google, id_token):
    pem_map = requests.get(f"{google.url}/oauth2/v1/certs").json()
    kid = jwt.get_unverified_header(id_token)["kid"]
    cert = load_pem_x509_certificate(pem_map[kid].encode())
    assert jwt.decode(id_token, cert.public_key(), algorithms=["RS256"], audience="https://svc")


def test_rotation_keeps_the_previous_key_published(topology, issuer):
    from tests.mock_gcp.conftest import serve_google

    server, google = serve_google(topology, issuer.url)
    with server:
        old = google.backend.issuer.active.kid
        google.backend.issuer.rotate()
        kids = [k["kid"] for k in requests.get(f"{google.url}/oauth2/v3/certs").json()["keys"]]
        assert kids == [google.backend.issuer.active.kid, old]
        google.backend.issuer.rotate()
        kids = [k["kid"] for k in requests.get(f"{google.url}/oauth2/v3/certs").json()["keys"]]
        assert old not in kids


def test_tokeninfo_of_an_id_token(google, id_token):
    info = requests.get(f"{google.url}/oauth2/v3/tokeninfo", params={"id_token": id_token}).json()
    assert info["email"] == SA
    assert info["email_verified"] == "true"
    assert info["aud"] == "https://svc"
    assert info["alg"] == "RS256"


@pytest.mark.parametrize("params", [{"id_token": "junk"}, {"access_token": "ya29.nope"}])
def test_tokeninfo_of_junk(google, params):
    response = requests.post(f"{google.url}/oauth2/v3/tokeninfo", data=params)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_token", "error_description": "Invalid Value"},
    )


def test_metadata_ping_answers_with_the_flavor_header(google):
    response = requests.get(f"{google.url}/")
    assert response.headers["Metadata-Flavor"] == "Google"


def test_metadata_refuses_requests_without_the_flavor_header(google):
    response = requests.get(f"{google.url}{IDENTITY}", params={"audience": "a"})
    assert response.status_code == 403
    assert response.text == (
        f"Your client does not have permission to get URL <code>{IDENTITY}</code> from this "
        "server. Missing Metadata-Flavor:Google header."
    )


def test_metadata_refuses_forwarded_requests(google):
    headers = {**FLAVOR, "X-Forwarded-For": "203.0.113.9"}
    assert requests.get(f"{google.url}{IDENTITY}?audience=a", headers=headers).status_code == 403


def test_metadata_identity_needs_an_audience(google):
    response = requests.get(f"{google.url}{IDENTITY}", headers=FLAVOR)
    assert (response.status_code, response.text) == (400, "non-empty audience parameter required")


def test_metadata_identity_full_format(google):
    token = requests.get(
        f"{google.url}{IDENTITY}", params={"audience": "a", "format": "full"}, headers=FLAVOR
    ).text
    claims = google.backend.issuer.verify(token, audience="a")
    assert claims["email"] == VM_SA
    assert claims["google"]["compute_engine"]["project_number"] == 123456789012


def test_metadata_token_is_json_and_usable(google):
    response = requests.get(
        f"{google.url}/computeMetadata/v1/instance/service-accounts/default/token", headers=FLAVOR
    )
    assert response.headers["Content-Type"] == "application/json"
    token = response.json()["access_token"]
    info = requests.get(f"{google.url}/oauth2/v3/tokeninfo", params={"access_token": token}).json()
    # The metadata server's default scope is cloud-platform: tokeninfo shows no email then.
    assert info["azp"] == google.backend.topology.service_account(VM_SA).unique_id
    assert info["scope"] == "https://www.googleapis.com/auth/cloud-platform"


def test_metadata_by_email_and_unknown_alias(google):
    base = f"{google.url}/computeMetadata/v1/instance/service-accounts"
    assert requests.get(f"{base}/{VM_SA}/email", headers=FLAVOR).text == VM_SA
    assert requests.get(f"{base}/{SA}/email", headers=FLAVOR).status_code == 404


def test_unknown_paths_are_json_404s(google):
    response = requests.get(f"{google.url}/v9/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"


def test_oversized_bodies_are_413(google):
    name = "projects/-/serviceAccounts/a@demo-project.iam.gserviceaccount.com"
    response = requests.post(f"{google.url}/v1/{name}:signBlob", data="x" * 70000)
    assert response.status_code == 413
    # STS takes options up to 4 MiB (sts.v1.json), percent-encoded: its limit is higher.
    response = requests.post(f"{google.url}/v1/token", data={"options": "x" * (25 * 2**20)})
    assert response.status_code == 413
