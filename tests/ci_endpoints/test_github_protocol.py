"""GitHub Actions' OIDC request protocol on the lab IdP: what @actions/core's
``OidcClient.getIDToken`` sends (``GET ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD`` with
``Authorization: Bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN``) answered with ``{"value": JWT}``."""

from __future__ import annotations

from urllib.parse import quote

import jwt
import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp_server.app import create_app
from idp_server.presets import PRESETS
from idp_server.settings import IdpSettings

ISSUER = "https://idp.example"
REQUEST_TOKEN = "request-token-for-tests-5d1e"
URL = "/ci/github/idtoken?api-version=2.0"
BEARER = {"Authorization": f"Bearer {REQUEST_TOKEN}"}


@pytest.fixture(scope="module")
def client() -> FlaskClient:
    return create_app(IdpSettings(issuer=ISSUER, ci_request_token=REQUEST_TOKEN)).test_client()


def claims_of(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    return jwt.decode(response.get_json()["value"], options={"verify_signature": False})


def test_the_answer_is_a_json_value_holding_a_github_shaped_token(client):
    response = client.get(
        f"{URL}&audience={quote('https://iam.googleapis.com/x', safe='')}", headers=BEARER
    )
    assert response.mimetype == "application/json"
    claims = claims_of(response)
    assert claims["iss"] == "https://idp.example/presets/github"
    assert claims["aud"] == "https://iam.googleapis.com/x"
    assert claims["sub"] == "repo:acme/app:ref:refs/heads/main"
    assert claims["repository_owner_id"] == "1342004"  # ids are strings, as GitHub's are


def test_without_an_audience_the_token_is_for_the_owner_url(client):
    assert claims_of(client.get(URL, headers=BEARER))["aud"] == "https://github.com/acme"


def test_the_url_says_which_job_it_is(client):
    url = f"{URL}&repository=octo/site&ref=refs/heads/release&variant=environment&environment=prod"
    claims = claims_of(client.get(url, headers=BEARER))
    assert claims["repository"] == "octo/site"
    assert claims["repository_owner"] == "octo"
    assert claims["sub"] == "repo:octo/site:environment:prod"
    assert claims["aud"] == "https://github.com/octo"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": REQUEST_TOKEN},
        {"Authorization": "Basic x"},
    ],
    ids=["missing", "wrong", "no-scheme", "basic"],
)
def test_without_the_request_token_it_is_refused_with_401(client, headers):
    response = client.get(URL, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    text = response.get_data(as_text=True)
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN" in text
    assert REQUEST_TOKEN not in text


@pytest.mark.parametrize("name", ["colour", "issuer", "now", "audience_", "variant_"])
def test_a_query_name_that_is_no_param_is_a_400_naming_it(client, name):
    response = client.get(f"{URL}&{name}=x", headers=BEARER)
    assert response.status_code == 400
    assert response.get_json()["error_description"].startswith(f"{name}: not a param of github")


def test_an_unknown_param_or_variant_is_a_400_naming_it(client):
    response = client.get(f"{URL}&colour=blue", headers=BEARER)
    assert response.status_code == 400
    assert response.get_json()["error_description"].startswith("colour: not a param of github")
    response = client.get(f"{URL}&variant=nightly", headers=BEARER)
    assert response.status_code == 400
    assert "variant: 'nightly'" in response.get_json()["error_description"]


def test_without_githubs_api_version_it_is_a_400_naming_it(client):
    response = client.get("/ci/github/idtoken?audience=x", headers=BEARER)
    assert response.status_code == 400
    assert response.get_json()["error_description"].startswith("api-version:")


def test_each_run_has_its_own_request_token():
    assert (
        IdpSettings(issuer=ISSUER).ci_request_token != IdpSettings(issuer=ISSUER).ci_request_token
    )
    settings_ = IdpSettings(issuer=ISSUER)
    assert IdpSettings.from_env(settings_.to_env()).ci_request_token == settings_.ci_request_token
    assert settings_.ci_request_token not in repr(settings_)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(st.text(max_size=20), st.text(max_size=60), max_size=4))
def test_any_query_is_answered_200_or_400_never_500(client, query):
    from urllib.parse import urlencode

    response = client.get(f"{URL}&{urlencode(query)}", headers=BEARER)
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    if response.status_code == 400:
        assert response.get_json()["error"] == "invalid_request"


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.dictionaries(
        st.sampled_from([*sorted(PRESETS["github"].params), "variant", "audience"]),
        st.text(max_size=40),
        max_size=5,
    )
)
def test_any_value_of_the_presets_params_is_a_token_or_a_400_naming_it(client, params):
    from urllib.parse import urlencode

    response = client.get(f"{URL}&{urlencode(params)}", headers=BEARER)
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    if response.status_code == 400:
        described = response.get_json()["error_description"]
        assert described.split(":", 1)[0] in {*params, "aud", "variant"}, described
