"""IAM Credentials over HTTP: each method, each binding kind, each refusal in Google's shape."""

from __future__ import annotations

import base64
import datetime
import json
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.x509 import load_pem_x509_certificate

from mock_gcp.iamcredentials.methods import decide
from tests.mock_gcp.conftest import (
    CLOUD_PLATFORM,
    DELEGATE_SA,
    GROUP_SA,
    LONG_SA,
    NOBODY_SA,
    ORG_SA,
    POOL_SA,
    SA,
    TARGET_SA,
)


@pytest.fixture(scope="module")
def alice(google, issuer) -> str:
    """A federated token for alice (admin, in group admins, org acme)."""
    return google.federated_token(issuer.mint())


def error_of(response: requests.Response) -> dict:
    return response.json()["error"]


def test_generate_id_token_with_the_federated_token(google, alice):
    response = google.iamcredentials(
        SA, "generateIdToken", alice, {"audience": "https://svc", "includeEmail": True}
    )
    assert response.status_code == 200, response.text
    claims = google.backend.issuer.verify(response.json()["token"], audience="https://svc")
    account = google.backend.topology.service_account(SA)
    assert claims["email"] == SA and claims["email_verified"] is True
    assert claims["sub"] == claims["azp"] == account.unique_id
    assert claims["exp"] - claims["iat"] == 3600
    assert "workloadIdentityUser" in granted_by(google, alice, SA)


def test_id_token_without_email(google, alice):
    token = google.iamcredentials(SA, "generateIdToken", alice, {"audience": "a"}).json()["token"]
    assert "email" not in jwt.decode(token, options={"verify_signature": False})


def test_service_account_by_unique_id(google, alice):
    unique_id = google.backend.topology.service_account(SA).unique_id
    assert (
        google.iamcredentials(unique_id, "generateIdToken", alice, {"audience": "a"}).status_code
        == 200
    )


def test_generate_access_token_and_use_it(google, alice):
    response = google.iamcredentials(
        SA,
        "generateAccessToken",
        alice,
        {
            "delegates": None,
            "scope": ["https://www.googleapis.com/auth/cloud-platform"],
            "lifetime": "600s",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    expire = datetime.datetime.strptime(body["expireTime"], "%Y-%m-%dT%H:%M:%SZ")
    remaining = expire.replace(tzinfo=datetime.UTC).timestamp() - time.time()
    assert 590 <= remaining <= 601
    info = requests.get(
        f"{google.url}/oauth2/v3/tokeninfo", params={"access_token": body["accessToken"]}
    ).json()
    unique_id = google.backend.topology.service_account(SA).unique_id
    assert info["azp"] == info["aud"] == unique_id and "email" not in info  # no email scope
    # The service account's own token can call IAM Credentials as the service account.
    denied = google.iamcredentials(
        TARGET_SA, "generateIdToken", body["accessToken"], {"audience": "a"}
    )
    assert denied.status_code == 403


@pytest.mark.parametrize(
    ("account", "binding"),
    [(GROUP_SA, "group/admins"), (ORG_SA, "attribute.org_id/acme"), (POOL_SA, "/*")],
)
def test_principal_set_bindings(google, alice, account, binding):
    response = google.iamcredentials(account, "generateIdToken", alice, {"audience": "a"})
    assert response.status_code == 200, response.text
    assert binding in granted_by(google, alice, account)


def test_group_binding_refuses_those_outside_the_group(google, issuer):
    outsider = google.federated_token(issuer.mint(mygroups=["users"]))
    response = google.iamcredentials(GROUP_SA, "generateIdToken", outsider, {"audience": "a"})
    assert response.status_code == 403


def test_attribute_binding_refuses_another_tenant(google, issuer):
    other = google.federated_token(issuer.mint(org_id="globex"))
    assert (
        google.iamcredentials(ORG_SA, "generateIdToken", other, {"audience": "a"}).status_code
        == 403
    )


def test_openid_token_creator_cannot_get_access_tokens(google, alice):
    response = google.iamcredentials(ORG_SA, "generateAccessToken", alice, {"scope": ["s"]})
    assert response.status_code == 403
    assert error_of(response)["message"] == (
        "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."
    )


def test_no_binding_is_googles_403_body(google, alice):
    response = google.iamcredentials(NOBODY_SA, "generateIdToken", alice, {"audience": "a"})
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": 403,
            "message": (
                "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource "
                "(or it may not exist)."
            ),
            "status": "PERMISSION_DENIED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "IAM_PERMISSION_DENIED",
                    "domain": "iam.googleapis.com",
                    "metadata": {"permission": "iam.serviceAccounts.getOpenIdToken"},
                }
            ],
        }
    }
    assert error_of(response)["details"][0]["reason"] == "IAM_PERMISSION_DENIED"


def test_unknown_account_is_403(google, alice):
    response = google.iamcredentials(
        "ghost@demo-project.iam.gserviceaccount.com", "generateIdToken", alice, {"audience": "a"}
    )
    assert response.status_code == 403


def test_delegation_chain(google, alice):
    body = {"audience": "a", "delegates": [f"projects/-/serviceAccounts/{DELEGATE_SA}"]}
    # alice has tokenCreator (so implicitDelegation) on the delegate, which can mint for the target.
    assert google.iamcredentials(TARGET_SA, "generateIdToken", alice, body).status_code == 200
    direct = google.iamcredentials(TARGET_SA, "generateIdToken", alice, {"audience": "a"})
    assert direct.status_code == 403


def test_delegation_without_implicit_delegation(google, alice):
    body = {"audience": "a", "delegates": [f"projects/-/serviceAccounts/{NOBODY_SA}"]}
    response = google.iamcredentials(TARGET_SA, "generateIdToken", alice, body)
    assert response.status_code == 403
    assert (
        error_of(response)["details"][0]["metadata"]["permission"]
        == "iam.serviceAccounts.implicitDelegation"
    )


def test_missing_scope(google, alice):
    response = google.iamcredentials(SA, "generateAccessToken", alice, {"lifetime": "60s"})
    assert response.status_code == 400
    assert error_of(response) == {
        "code": 400,
        "message": "Request contains an invalid argument.",
        "status": "INVALID_ARGUMENT",
    }


def test_lifetime_over_one_hour(google, alice):
    response = google.iamcredentials(
        SA, "generateAccessToken", alice, {"scope": [CLOUD_PLATFORM], "lifetime": "3601s"}
    )
    assert response.status_code == 400
    assert error_of(response)["message"] == (
        f"Access tokens for service account {SA} can not have lifetimes of more than 1 hour. "
        "Use the Org Policy Constraint "
        "constraints/iam.allowServiceAccountCredentialLifetimeExtension to allow up to 12 hours."
    )


def test_lifetime_extension_allows_twelve_hours(google, alice):
    ok = google.iamcredentials(
        LONG_SA, "generateAccessToken", alice, {"scope": [CLOUD_PLATFORM], "lifetime": "43200s"}
    )
    assert ok.status_code == 200, ok.text
    over = google.iamcredentials(
        LONG_SA, "generateAccessToken", alice, {"scope": [CLOUD_PLATFORM], "lifetime": "43201s"}
    )
    assert over.status_code == 400


def test_sign_blob_verifies_with_the_published_certificate(google, alice):
    payload = b"sign me"
    response = google.iamcredentials(
        GROUP_SA, "signBlob", alice, {"payload": base64.b64encode(payload).decode()}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    certs = requests.get(f"{google.url}/service_accounts/v1/metadata/x509/{GROUP_SA}").json()
    cert = load_pem_x509_certificate(certs[body["keyId"]].encode())
    cert.public_key().verify(
        base64.b64decode(body["signedBlob"]), payload, padding.PKCS1v15(), SHA256()
    )
    assert len(body["keyId"]) == 40


def test_sign_jwt(google, alice):
    claims = {"sub": "someone", "exp": int(time.time()) + 600}
    response = google.iamcredentials(GROUP_SA, "signJwt", alice, {"payload": json.dumps(claims)})
    assert response.status_code == 200, response.text
    signed = response.json()["signedJwt"]
    jwks = requests.get(f"{google.url}/service_accounts/v1/jwk/{GROUP_SA}").json()
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(signed)["kid"]]
    assert jwt.decode(signed, key, algorithms=["RS256"]) == claims


def test_sign_jwt_exp_over_twelve_hours(google, alice):
    claims = {"exp": int(time.time()) + 12 * 3600 + 60}
    response = google.iamcredentials(GROUP_SA, "signJwt", alice, {"payload": json.dumps(claims)})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("generateIdToken", {"audience": 5}, "audience"),
        ("generateIdToken", {"audience": "a", "includeEmail": "yes"}, "include_email"),
        ("generateIdToken", {"audience": "a", "bogus": 1}, "bogus"),
        ("generateAccessToken", {"scope": "s"}, "scope"),
        ("generateAccessToken", {"scope": [CLOUD_PLATFORM], "lifetime": "1h"}, "lifetime"),
        ("signBlob", {"payload": "!!!"}, "payload"),
    ],
)
def test_bad_fields_are_named(google, alice, method, body, field):
    response = google.iamcredentials(GROUP_SA, method, alice, body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT"
    assert field in error["message"]
    assert error["details"][0]["fieldViolations"][0]["field"] == field


def test_body_not_json(google, alice):
    response = google.session.post(
        f"{google.url}/v1/projects/-/serviceAccounts/{SA}:generateIdToken",
        data="{nope",
        headers={"Authorization": f"Bearer {alice}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert error_of(response)["status"] == "INVALID_ARGUMENT"


def test_no_credentials(google):
    response = google.iamcredentials(SA, "generateIdToken", None, {"audience": "a"})
    assert response.status_code == 401
    assert error_of(response)["message"].startswith(
        "Request is missing required authentication credential."
    )


def test_unknown_token(google):
    response = google.iamcredentials(SA, "generateIdToken", "ya29.made-up", {"audience": "a"})
    assert response.status_code == 401
    assert error_of(response)["message"].startswith(
        "Request had invalid authentication credentials."
    )


def test_token_without_an_iam_scope(google, issuer):
    token = google.exchange(
        issuer.mint(), scope="https://www.googleapis.com/auth/devstorage.read_only"
    ).json()["access_token"]
    response = google.iamcredentials(SA, "generateIdToken", token, {"audience": "a"})
    assert response.status_code == 403
    assert error_of(response)["message"] == "Request had insufficient authentication scopes."


def test_project_instead_of_wildcard(google, alice):
    response = google.session.post(
        f"{google.url}/v1/projects/demo-project/serviceAccounts/{SA}:generateIdToken",
        json={"audience": "a"},
        headers={"Authorization": f"Bearer {alice}"},
    )
    assert response.status_code == 400


def test_unknown_method(google, alice):
    assert google.iamcredentials(SA, "generateMagic", alice, {}).status_code == 404


def test_federated_token_is_not_an_oauth_access_token(google, alice):
    response = requests.get(f"{google.url}/oauth2/v3/tokeninfo", params={"access_token": alice})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_token", "error_description": "Invalid Value"}


def granted_by(google, token: str, email: str) -> str:
    """The binding IAM's decision names for this caller's getOpenIdToken on ``email``."""
    topology = google.backend.topology
    caller = google.backend.tokens.lookup(token).caller
    authorization = decide(
        topology, caller, topology.service_account(email), "iam.serviceAccounts.getOpenIdToken"
    )
    assert authorization.decision.allowed
    return str(authorization.grant)
