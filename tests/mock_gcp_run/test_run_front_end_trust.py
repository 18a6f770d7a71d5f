"""What the dump may say it knows: "verified by the front end" only behind a private service.

A token ending in SIGNATURE_REMOVED_BY_GOOGLE is easy to forge. It means the front end
checked it only when the front end says so (its X-Wiflab-Front-End header, carrying the
secret it shares with its app) and says it checked that very header.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests

from protected_app.app import create_app as create_dump_app
from protected_app.settings import Settings, VerifyMode
from tests.mock_gcp_run.conftest import FrontEndServer, StartFrontEnd, service
from tests.mock_gcp_run.helpers import EchoUpstream, id_token_claims
from wiflab_core.serving import ThreadedServer

SECRET = "shared-front-end-secret-for-tests"
BY_FRONT_END = "Cloud Run front end (signature removed by Google)"


def forged(claims: dict[str, Any]) -> str:
    """A token anyone can write: header and payload, then the marker, no signature at all."""

    def segment(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{segment({'alg': 'RS256', 'kid': 'k'})}.{segment(claims)}.SIGNATURE_REMOVED_BY_GOOGLE"


@pytest.fixture(scope="module")
def dump(running_servers: list[ThreadedServer]) -> str:
    settings = Settings(
        VerifyMode.CLOUD_RUN, cloud_run={"K_SERVICE": "dump"}, front_end_secret=SECRET
    )
    server = ThreadedServer(create_dump_app(settings)).start()
    running_servers.append(server)
    return server.url


def dumped(url: str, token: str, **headers: str) -> dict[str, Any]:
    response = requests.post(url + "/dump", headers={"Authorization": f"Bearer {token}", **headers})
    assert response.status_code == 200, response.text
    return response.json()


def test_behind_a_private_service_a_checked_token_is_verified(
    start_front_end: StartFrontEnd, dump: str
) -> None:
    front = start_front_end(upstream=dump, app_secret=SECRET)
    seen = dumped(front.url, front.token(id_token_claims(front.url)))
    assert seen["identity"]["verified"] is True
    assert seen["identity"]["by"] == BY_FRONT_END
    # The dump shows what the front end said, never the secret that proves it.
    assert seen["headers"]["X-Wiflab-Front-End"] == "checked=Authorization; secret=(hidden)"
    assert SECRET not in str(seen)


def test_behind_a_public_service_a_forged_marker_is_not_verified(
    start_front_end: StartFrontEnd, dump: str
) -> None:
    front = start_front_end(service(allow_unauthenticated=True), upstream=dump, app_secret=SECRET)
    identity = dumped(front.url, forged(id_token_claims(front.url)))["identity"]
    assert identity["verified"] is False and identity["by"] is None
    assert identity["error"] == (
        "not verified: the service is public, so the Cloud Run front end checked no token"
    )


@pytest.mark.parametrize(
    "front_end_header",
    [None, "checked=Authorization", "checked=Authorization; secret=guess", "secret="],
)
def test_straight_to_the_apps_port_nothing_is_verified(
    dump: str, front_end_header: str | None
) -> None:
    headers = {"X-Wiflab-Front-End": front_end_header} if front_end_header is not None else {}
    identity = dumped(dump, forged(id_token_claims("https://dump.example")), **headers)["identity"]
    assert identity["verified"] is False
    assert identity["error"].startswith(
        "not verified: the request did not come through the Cloud Run front end"
    )


def test_a_callers_own_front_end_header_never_reaches_the_app(
    start_front_end: StartFrontEnd, echo: tuple[EchoUpstream, str]
) -> None:
    front: FrontEndServer = start_front_end(
        service(allow_unauthenticated=True), upstream=echo[1], app_secret=SECRET
    )
    response = requests.get(
        front.url + "/echo/h", headers={"X-Wiflab-Front-End": "checked=Authorization; secret=x"}
    )
    assert response.json()["headers"]["X-Wiflab-Front-End"] == f"checked=none; secret={SECRET}"


def test_a_token_in_the_header_the_front_end_did_not_check_is_not_verified(
    start_front_end: StartFrontEnd, dump: str
) -> None:
    # The front end checks X-Serverless-Authorization; the dump looks there too, so only a
    # hand-made X-Wiflab-Front-End naming another header could differ: straight to the port.
    front = start_front_end(upstream=dump, app_secret=SECRET)
    token = front.token(id_token_claims(front.url))
    response = requests.get(
        front.url + "/dump",
        headers={"X-Serverless-Authorization": f"Bearer {token}", "Authorization": "Bearer x"},
    )
    identity = response.json()["identity"]
    assert identity["verified"] is True and identity["header"] == "X-Serverless-Authorization"


def test_a_service_declared_public_never_reports_verified() -> None:
    settings = Settings.from_env({"K_SERVICE": "dump", "PROTECTED_APP_PUBLIC": "1"})
    client = create_dump_app(settings).test_client()
    token = forged(id_token_claims("https://dump.example"))
    identity = client.get("/dump", headers={"Authorization": f"Bearer {token}"}).json["identity"]
    assert identity["verified"] is False
    assert "PROTECTED_APP_PUBLIC=1" in identity["error"]
