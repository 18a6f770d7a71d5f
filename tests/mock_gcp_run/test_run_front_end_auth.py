"""The Cloud Run front end's every answer, over real HTTP, with Google's exact pages."""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

import pytest
import requests

from mock_gcp.topology import Binding, Policy
from tests.mock_gcp_run.conftest import StartFrontEnd, service
from tests.mock_gcp_run.helpers import (
    CALLER,
    CALLER_UNIQUE_ID,
    CUSTOM_AUDIENCE,
    STRANGER,
    forbidden_page,
    id_token_claims,
    unauthorized_page,
)
from wiflab_core.keys import generate

WWW_AUTHENTICATE = (
    'Bearer error="invalid_token" error_description="The access token could not be verified"'
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_forbidden(response: requests.Response, path: str) -> None:
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert response.content == forbidden_page(path)
    assert "WWW-Authenticate" not in response.headers


def assert_unauthorized(response: requests.Response, path: str) -> None:
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert response.content == unauthorized_page(path)
    assert response.headers["WWW-Authenticate"] == WWW_AUTHENTICATE


def test_invoker_is_let_through_and_dump_shows_who_called(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    token = front.token(id_token_claims(front.url))
    response = requests.get(front.url + "/dump?x=1", headers=bearer(token))
    assert response.status_code == 200
    dump = response.json()
    assert dump["identity"]["verified"] is True
    assert dump["identity"]["by"] == "Cloud Run front end (signature removed by Google)"
    assert dump["identity"]["claims"]["email"] == CALLER
    header, payload, _ = token.split(".")
    assert dump["headers"]["Authorization"] == (
        f"Bearer {header}.{payload}.SIGNATURE_REMOVED_BY_GOOGLE"
    )
    assert dump["query"] == {"x": ["1"]}
    assert dump["cloud_run"]["K_SERVICE"] == "dump"


def test_no_token_is_403(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    assert_forbidden(requests.get(front.url + "/dump"), "/dump")
    assert_forbidden(requests.post(front.url + "/a/b?c=d", data=b"x"), "/a/b")


def test_non_bearer_credential_is_403(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    response = requests.get(front.url + "/dump", headers={"Authorization": "Basic dTpw"})
    assert_forbidden(response, "/dump")


def test_error_page_escapes_the_path(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    connection = http.client.HTTPConnection(urlsplit(front.url).netloc)
    connection.request("GET", "/<b>x</b>?q=<i>")  # sent raw: requests would percent-encode
    response = connection.getresponse()
    assert response.status == 403
    assert response.read() == forbidden_page("/&lt;b&gt;x&lt;/b&gt;")
    connection.close()


def test_bad_signature_is_401(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    forged = generate("RS256").sign(id_token_claims(front.url), {"kid": front.google_key.kid})
    assert_unauthorized(requests.get(front.url + "/dump", headers=bearer(forged)), "/dump")


def test_unknown_kid_is_401(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    token = generate("RS256").sign(id_token_claims(front.url))
    assert_unauthorized(requests.get(front.url + "/dump", headers=bearer(token)), "/dump")


def test_not_a_jwt_is_401(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    assert_unauthorized(requests.get(front.url + "/", headers=bearer("ya29.access-token")), "/")


def test_expired_token_is_401(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    now = int(time.time())
    token = front.token(id_token_claims(front.url, iat=now - 7200, exp=now - 3600))
    assert_unauthorized(requests.get(front.url + "/dump", headers=bearer(token)), "/dump")


def test_wrong_audience_is_401(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    token = front.token(id_token_claims("https://other-service.a.run.app"))
    assert_unauthorized(requests.get(front.url + "/dump", headers=bearer(token)), "/dump")


def test_wrong_issuer_is_401(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    token = front.token(id_token_claims(front.url, iss="https://idp.example"))
    assert_unauthorized(requests.get(front.url + "/dump", headers=bearer(token)), "/dump")


def test_es256_token_is_401(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    token = generate("ES256").sign(id_token_claims(front.url), {"kid": front.google_key.kid})
    assert_unauthorized(requests.get(front.url + "/dump", headers=bearer(token)), "/dump")


@pytest.mark.parametrize("suffix", ["", "/"])
def test_service_url_with_or_without_trailing_slash_is_accepted(
    start_front_end: StartFrontEnd, suffix: str
) -> None:
    front = start_front_end()
    token = front.token(id_token_claims(front.url + suffix))
    assert requests.get(front.url + "/dump", headers=bearer(token)).status_code == 200


def test_custom_audience_is_accepted(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    token = front.token(id_token_claims(CUSTOM_AUDIENCE))
    response = requests.get(front.url + "/dump", headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["identity"]["claims"]["aud"] == CUSTOM_AUDIENCE


def test_google_issuer_spelling_is_accepted(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    token = front.token(id_token_claims(front.url, iss="https://accounts.google.com"))
    assert requests.get(front.url + "/dump", headers=bearer(token)).status_code == 200


def test_serverless_authorization_is_checked_and_authorization_passes_untouched(
    start_front_end: StartFrontEnd,
) -> None:
    front = start_front_end()
    token = front.token(id_token_claims(front.url))
    headers = {
        "X-Serverless-Authorization": f"Bearer {token}",
        "Authorization": "Bearer the-apps-own-token",
    }
    response = requests.get(front.url + "/dump", headers=headers)
    assert response.status_code == 200
    dump = response.json()
    assert dump["headers"]["Authorization"] == "Bearer the-apps-own-token"
    assert dump["headers"]["X-Serverless-Authorization"].endswith(".SIGNATURE_REMOVED_BY_GOOGLE")
    assert dump["identity"]["header"] == "X-Serverless-Authorization"
    assert dump["identity"]["verified"] is True


def test_only_serverless_authorization_is_checked_when_both_are_sent(
    start_front_end: StartFrontEnd,
) -> None:
    front = start_front_end()
    good = front.token(id_token_claims(front.url))
    headers = {"X-Serverless-Authorization": "Bearer not-valid", "Authorization": f"Bearer {good}"}
    assert_unauthorized(requests.get(front.url + "/dump", headers=headers), "/dump")


def test_valid_token_without_invoker_is_403(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    token = front.token(id_token_claims(front.url, email=STRANGER))
    assert_forbidden(requests.get(front.url + "/dump", headers=bearer(token)), "/dump")


def test_bindings_changed_at_run_time_take_effect(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    token = front.token(id_token_claims(front.url, email=STRANGER))
    assert requests.get(front.url + "/dump", headers=bearer(token)).status_code == 403
    invoker = Binding("roles/run.invoker", (f"serviceAccount:{STRANGER}",))
    front.policies.append(("projects/p", Policy((invoker,))))
    assert requests.get(front.url + "/dump", headers=bearer(token)).status_code == 200


def test_token_without_email_is_matched_by_unique_id(start_front_end: StartFrontEnd) -> None:
    front = start_front_end(email_for_unique_id={CALLER_UNIQUE_ID: CALLER}.get)
    claims = id_token_claims(front.url)
    del claims["email"], claims["email_verified"]
    response = requests.get(front.url + "/dump", headers=bearer(front.token(claims)))
    assert response.status_code == 200


def test_token_without_email_and_no_lookup_is_403(start_front_end: StartFrontEnd) -> None:
    front = start_front_end()
    claims = id_token_claims(front.url)
    del claims["email"], claims["email_verified"]
    assert_forbidden(
        requests.get(front.url + "/dump", headers=bearer(front.token(claims))), "/dump"
    )


def test_allow_unauthenticated_passes_everything_untouched(
    start_front_end: StartFrontEnd,
) -> None:
    front = start_front_end(service(allow_unauthenticated=True, policy=Policy()))
    assert requests.get(front.url + "/dump").status_code == 200
    foreign = generate("RS256").sign(id_token_claims("https://elsewhere.example"))
    response = requests.get(front.url + "/dump", headers=bearer(foreign))
    assert response.status_code == 200
    dump = response.json()
    assert dump["headers"]["Authorization"] == f"Bearer {foreign}"
    # Not put there by the front end, so the app does not take it as checked.
    assert dump["identity"]["verified"] is False


def test_all_users_invoker_makes_the_service_public(start_front_end: StartFrontEnd) -> None:
    public = Policy((Binding("roles/run.invoker", ("allUsers",)),))
    front = start_front_end(service(policy=public))
    assert requests.get(front.url + "/dump").status_code == 200
