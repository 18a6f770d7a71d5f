"""The four IAM Credentials methods over gRPC, through google-cloud-iam's IAMCredentialsClient
on its default gRPC transport with google-auth's federated credentials: each answer is one a
user can use (an ID token that verifies, an access token the stand-in knows, signatures that
check with the account's published key)."""

from __future__ import annotations

import base64
import datetime
import json
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.x509 import load_pem_x509_certificate
from google.protobuf import duration_pb2

from tests.mock_gcp.conftest import CLOUD_PLATFORM, GROUP_SA, SA, TARGET_SA
from tests.mock_gcp_grpc.conftest import claims_of

NAME = "projects/-/serviceAccounts/{}"


def test_generate_id_token(client, google):
    response = client().generate_id_token(
        name=NAME.format(SA), audience="https://svc.example.run.app", include_email=True
    )
    claims = google.backend.issuer.verify(response.token, audience="https://svc.example.run.app")
    assert claims["email"] == SA and claims["email_verified"] is True
    assert claims["sub"] == google.backend.topology.service_account(SA).unique_id


def test_generate_id_token_without_email(client):
    token = client().generate_id_token(name=NAME.format(SA), audience="a").token
    assert "email" not in claims_of(token)


def test_generate_access_token_is_a_token_the_rest_api_accepts(client, google):
    before = time.time()
    response = client().generate_access_token(
        name=NAME.format(GROUP_SA),
        scope=[CLOUD_PLATFORM],
        lifetime=duration_pb2.Duration(seconds=600),
    )
    expire = response.expire_time.timestamp()
    assert before + 600 - 2 <= expire <= time.time() + 600 + 1
    # The token works where a user would use it next: IAM Credentials over REST.
    answer = google.iamcredentials(SA, "generateIdToken", response.access_token, {"audience": "a"})
    # GROUP_SA holds no binding on SA: refused by IAM, not as an unknown credential.
    assert answer.status_code == 403, answer.text


def test_sign_blob_verifies_with_the_accounts_published_certificate(client, google):
    response = client().sign_blob(name=NAME.format(GROUP_SA), payload=b"\x00binary\xff")
    certs = google.session.get(f"{google.url}/service_accounts/v1/metadata/x509/{GROUP_SA}")
    assert certs.status_code == 200, certs.text
    certificate = load_pem_x509_certificate(certs.json()[response.key_id].encode())
    certificate.public_key().verify(  # type: ignore[call-arg]
        response.signed_blob, b"\x00binary\xff", padding.PKCS1v15(), SHA256()
    )


def test_sign_jwt(client, google):
    exp = int(time.time()) + 600
    payload = json.dumps({"sub": "someone", "aud": "https://x", "exp": exp})
    response = client().sign_jwt(name=NAME.format(GROUP_SA), payload=payload)
    header = jwt.get_unverified_header(response.signed_jwt)
    assert header["kid"] == response.key_id
    assert claims_of(response.signed_jwt) == {"sub": "someone", "aud": "https://x", "exp": exp}


def test_delegation_chain(client, google):
    """alice -> delegate (implicitDelegation via tokenCreator) -> target."""
    from tests.mock_gcp.conftest import DELEGATE_SA

    response = client().generate_id_token(
        name=NAME.format(TARGET_SA), audience="a", delegates=[NAME.format(DELEGATE_SA)]
    )
    assert claims_of(response.token)["sub"] == (
        google.backend.topology.service_account(TARGET_SA).unique_id
    )


def test_the_account_by_unique_id(client, google):
    unique_id = google.backend.topology.service_account(SA).unique_id
    assert client().generate_id_token(name=NAME.format(unique_id), audience="a").token


def test_routing_header_is_accepted(insecure_client, google, issuer):
    """The client sends x-goog-request-params itself; a hand-written one is accepted too."""
    token = google.federated_token(issuer.mint())
    response = insecure_client().generate_id_token(
        name=NAME.format(SA),
        audience="a",
        metadata=[
            ("authorization", f"Bearer {token}"),
            ("x-goog-request-params", "name=projects%2F-%2FserviceAccounts%2Fother%40x"),
        ],
    )
    assert claims_of(response.token)["aud"] == "a"


def test_expire_time_has_whole_seconds(client):
    response = client().generate_access_token(name=NAME.format(GROUP_SA), scope=[CLOUD_PLATFORM])
    assert response.expire_time.microsecond == 0
    assert response.expire_time.tzinfo == datetime.UTC


def test_rest_and_grpc_sign_the_same_way(client, google, issuer):
    """signBlob over both transports: the same key, so both signatures verify alike."""
    token = google.federated_token(issuer.mint())
    rest = google.iamcredentials(
        GROUP_SA, "signBlob", token, {"payload": base64.b64encode(b"same").decode()}
    ).json()
    over_grpc = client().sign_blob(name=NAME.format(GROUP_SA), payload=b"same")
    assert over_grpc.key_id == rest["keyId"]
    assert over_grpc.signed_blob == base64.b64decode(rest["signedBlob"])  # PKCS#1 v1.5
