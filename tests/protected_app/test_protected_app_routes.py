"""The dump service's routes over real HTTP: what a caller sees, whatever the token."""

from __future__ import annotations

import requests

from protected_app.settings import Settings, VerifyMode
from tests.protected_app.helpers import ServeDump


def test_index_says_what_the_service_is_and_where_dump_is(serve_dump: ServeDump) -> None:
    url = serve_dump(Settings())
    response = requests.get(url + "/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "dump" in response.text and "/dump" in response.text


def test_healthz_is_ok(serve_dump: ServeDump) -> None:
    response = requests.get(serve_dump(Settings()) + "/healthz")
    assert (response.status_code, response.text.strip()) == (200, "ok")


def test_dump_shows_method_path_query_headers_and_body(serve_dump: ServeDump) -> None:
    url = serve_dump(Settings())
    response = requests.post(
        url + "/dump?a=1&a=2&b=x%20y",
        data=b"hello body",
        headers={"X-Custom": "value", "Content-Type": "text/plain"},
    )
    assert response.status_code == 200
    dump = response.json()
    assert dump["method"] == "POST"
    assert dump["path"] == "/dump"
    assert dump["query"] == {"a": ["1", "2"], "b": ["x y"]}
    assert dump["headers"]["X-Custom"] == "value"
    assert dump["body"] == "hello body"
    assert dump["body_bytes"] == len(b"hello body")
    assert dump["remote_addr"] == "127.0.0.1"


def test_dump_without_token_says_so(serve_dump: ServeDump) -> None:
    identity = requests.get(serve_dump(Settings()) + "/dump").json()["identity"]
    assert identity["verified"] is False
    assert identity["claims"] is None
    assert identity["error"].startswith("no token")


def test_cloud_run_variables_are_shown_when_set(serve_dump: ServeDump) -> None:
    env = {"K_SERVICE": "dump", "K_REVISION": "dump-00001-abc", "K_CONFIGURATION": "dump"}
    settings = Settings.from_env(env)
    assert settings.verify is VerifyMode.CLOUD_RUN
    dump = requests.get(serve_dump(settings) + "/dump").json()
    assert dump["cloud_run"] == env


def test_cloud_run_variables_are_absent_outside_cloud_run(serve_dump: ServeDump) -> None:
    dump = requests.get(serve_dump(Settings.from_env({})) + "/dump").json()
    assert "cloud_run" not in dump


def test_unknown_path_and_method_get_json_errors(serve_dump: ServeDump) -> None:
    url = serve_dump(Settings())
    missing = requests.get(url + "/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == 404
    wrong_method = requests.put(url + "/dump")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == 405
