"""`wiflab mint --preset`: a real provider's token from a running IdP, printed."""

from __future__ import annotations

from collections.abc import Iterator

import jwt
import pytest

from idp_server.app import create_app
from idp_server.settings import IdpSettings
from wiflab.cli import main
from wiflab_core.serving import ThreadedServer


@pytest.fixture(scope="module")
def idp_url() -> Iterator[str]:
    server = ThreadedServer()
    server.app = create_app(
        IdpSettings(issuer=server.url, presets={"github": {"owner_id": "1342004"}})
    )
    server.start()
    yield server.url
    server.stop()


def claims_of(out: str) -> dict:
    return jwt.decode(out.strip(), options={"verify_signature": False})


def test_mint_a_github_pull_request_token(idp_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        [
            "mint",
            "--issuer-url",
            idp_url,
            "--preset",
            "github",
            "--repository",
            "acme/app",
            "--ref",
            "refs/heads/main",
            "--variant",
            "pull_request",
            "--param",
            "actor=mallory",
        ]
    )
    assert status == 0
    claims = claims_of(capsys.readouterr().out)
    assert claims["iss"] == f"{idp_url}/presets/github"
    assert claims["sub"] == "repo:acme/app:pull_request"
    assert claims["base_ref"] == "main"
    assert claims["actor"] == "mallory"
    assert claims["repository_owner_id"] == "1342004"
    assert claims["aud"] == "https://github.com/acme"


def test_mint_names_a_bad_param(idp_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["mint", "--issuer-url", idp_url, "--preset", "github", "--param", "colour=red"])
    assert status == 1
    assert "colour: not a param of github" in capsys.readouterr().err


def test_preset_flags_need_preset(idp_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mint", "--issuer-url", idp_url, "--ref", "refs/heads/main"]) == 2
    assert "--ref: only with --preset" in capsys.readouterr().err
    assert main(["mint", "--issuer-url", idp_url, "--preset", "github", "--param", "x"]) == 2
