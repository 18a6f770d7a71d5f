"""Azure's instance metadata identity endpoint on the lab IdP: Azure's request (``Metadata:
true``, ``api-version``, ``resource``) and Azure's answer, every number a string, with the
azure preset's managed-identity token for ``aud=resource``."""

from __future__ import annotations

from urllib.parse import urlencode

import jwt
import pytest
import time_machine
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp_server.app import create_app
from idp_server.settings import IdpSettings

ROUTE = "/metadata/identity/oauth2/token"
RESOURCE = "api://9d6c2f2e-3a4b-4c5d-8e9f-a0b1c2d3e4f5"
QUERY = urlencode({"api-version": "2018-02-01", "resource": RESOURCE})
METADATA = {"Metadata": "true"}
NOW = 1_900_000_000


@pytest.fixture(scope="module")
def client() -> FlaskClient:
    return create_app(IdpSettings(issuer="https://idp.example")).test_client()


def test_the_answer_is_azures_json_with_the_managed_identitys_token(client):
    with time_machine.travel(NOW, tick=False):
        response = client.get(f"{ROUTE}?{QUERY}", headers=METADATA)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["resource"] == RESOURCE
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == RESOURCE
    assert claims["iss"] == "https://idp.example/presets/azure"
    assert claims["ver"] == "1.0"
    assert claims["sub"] == claims["oid"]
    # Azure writes its numbers as strings.
    assert body["expires_on"] == str(claims["exp"])
    assert body["expires_in"] == str(claims["exp"] - NOW)
    assert body["not_before"] == str(claims["nbf"])
    assert all(isinstance(body[k], str) for k in ("expires_in", "expires_on", "not_before"))


@pytest.mark.parametrize("value", ["True", "TRUE", "true"])
def test_the_metadata_header_is_true_in_any_case(client, value):
    assert client.get(f"{ROUTE}?{QUERY}", headers={"Metadata": value}).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Metadata": "false"}, {"Metadata": ""}])
def test_without_the_metadata_header_it_is_azures_400(client, headers):
    response = client.get(f"{ROUTE}?{QUERY}", headers=headers)
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "invalid_request",
        "error_description": "Required metadata header not specified",
    }


def test_imds_client_id_and_object_id_pick_the_identity(client):
    identity = {"object_id": "aaaaaaaa-0000-4000-8000-000000000001", "client_id": "c1"}
    query = f"{QUERY}&{urlencode(identity)}"
    body = client.get(f"{ROUTE}?{query}", headers=METADATA).get_json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["oid"] == claims["sub"] == "aaaaaaaa-0000-4000-8000-000000000001"
    assert claims["appid"] == "c1"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (urlencode({"resource": RESOURCE}), "api-version"),
        (urlencode({"api-version": "1999-01-01", "resource": RESOURCE}), "version"),
        (urlencode({"api-version": "2018-02-01"}), "audience"),
    ],
)
def test_a_missing_query_variable_is_a_400_naming_it(client, query, field):
    response = client.get(f"{ROUTE}?{query}", headers=METADATA)
    assert response.status_code == 400
    assert field in response.get_json()["error_description"]


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=st.dictionaries(
        st.sampled_from(["api-version", "resource", "client_id", "object_id", "x"]),
        st.text(max_size=80),
    ),
    header=st.text(max_size=10).filter(lambda h: "\n" not in h and "\r" not in h),
)
def test_any_request_is_answered_200_or_400_never_500(client, query, header):
    response = client.get(f"{ROUTE}?{urlencode(query)}", headers={"Metadata": header})
    assert response.status_code in (200, 400), response.get_data(as_text=True)


def test_an_idp_with_a_token_secret_guards_it_like_token():
    guarded = create_app(IdpSettings(issuer="https://idp.example", token_secret="s3")).test_client()
    refused = guarded.get(f"{ROUTE}?{QUERY}", headers=METADATA)
    assert refused.status_code == 401
    assert "IDP_TOKEN_SECRET" in refused.get_json()["error_description"]
    allowed = guarded.get(f"{ROUTE}?{QUERY}", headers={**METADATA, "Authorization": "Bearer s3"})
    assert allowed.status_code == 200
