"""Who may mint and rotate: the bearer secrets, the loopback rule, and logs free of secrets."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

import pytest

from idp_server import guard
from idp_server.errors import ConfigError
from idp_server.settings import IdpSettings
from tests.idp_server.helpers import ADMIN_SECRET, TOKEN_SECRET, Idp, error_of

CLAIMS = {"sub": "alice", "aud": "aud-1"}


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "idp.internal", "::"])
def test_beyond_loopback_without_a_secret_refuses_to_start(host: str) -> None:
    with pytest.raises(ConfigError, match="IDP_TOKEN_SECRET"):
        IdpSettings(issuer="https://idp.example", bind_host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_loopback_needs_no_secret(host: str) -> None:
    assert IdpSettings(issuer="https://idp.example", bind_host=host).minting_secret is None


def test_public_minting_is_allowed_only_with_a_loud_warning(
    serve_idp: Callable[..., Idp], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        idp = serve_idp(bind_host="0.0.0.0", allow_public_minting=True)
    assert "IDP_ALLOW_PUBLIC_MINTING=1" in caplog.text and "anyone" in caplog.text
    assert idp.post_token(CLAIMS).status_code == 200


@pytest.fixture
def guarded(serve_idp: Callable[..., Idp]) -> Idp:
    return serve_idp(
        bind_host="0.0.0.0",
        token_secret=TOKEN_SECRET,
        admin_secret=ADMIN_SECRET,
        profiles={"alice": CLAIMS},
    )


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_token_needs_the_secret_beyond_loopback(guarded: Idp) -> None:
    missing = guarded.post_token(CLAIMS)
    assert error_of(missing)[:2] == (401, "unauthorized")
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization" in error_of(missing)[2]
    wrong = guarded.post_token(CLAIMS, headers=bearer("not-the-secret"))
    assert error_of(wrong)[0] == 401 and "does not match IDP_TOKEN_SECRET" in error_of(wrong)[2]
    basic = guarded.post_token(CLAIMS, headers={"Authorization": f"Basic {TOKEN_SECRET}"})
    assert basic.status_code == 401
    right = guarded.post_token(CLAIMS, headers=bearer(TOKEN_SECRET))
    assert right.status_code == 200 and guarded.verify(right.text)["sub"] == "alice"


def test_profile_route_is_guarded_too(guarded: Idp) -> None:
    url = f"{guarded.url}/token/alice"
    assert guarded.session.get(url).status_code == 401
    assert guarded.session.get(url, headers=bearer(TOKEN_SECRET)).status_code == 200


def test_discovery_and_certs_stay_public(guarded: Idp) -> None:
    assert guarded.discovery()["issuer"] == guarded.url
    assert len(guarded.jwks()["keys"]) == 2


def test_a_token_secret_on_loopback_is_enforced_too(serve_idp: Callable[..., Idp]) -> None:
    idp = serve_idp(token_secret=TOKEN_SECRET)
    assert idp.post_token(CLAIMS).status_code == 401
    assert idp.post_token(CLAIMS, headers=bearer(TOKEN_SECRET)).status_code == 200


def test_secrets_are_compared_in_constant_time(
    guarded: Idp, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, Any]] = []

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(guard, "compare_digest", spy)
    assert guarded.post_token(CLAIMS, headers=bearer("wrong")).status_code == 401
    assert guarded.admin("GET", "/keys", secret="wrong-admin").status_code == 401
    assert calls == [(b"wrong", TOKEN_SECRET.encode()), (b"wrong-admin", ADMIN_SECRET.encode())]


def test_admin_routes_are_refused_without_an_admin_secret(serve_idp: Callable[..., Idp]) -> None:
    idp = serve_idp()
    status, error, description = error_of(idp.admin("GET", "/keys"))
    assert (status, error) == (403, "forbidden") and "IDP_ADMIN_SECRET" in description


def test_admin_routes_need_the_right_secret(guarded: Idp) -> None:
    assert error_of(guarded.admin("GET", "/keys", secret=None))[0] == 401
    assert error_of(guarded.admin("POST", "/keys", secret=TOKEN_SECRET))[0] == 401
    assert guarded.admin("GET", "/keys").status_code == 200


def test_logs_never_contain_a_secret(guarded: Idp, caplog: pytest.LogCaptureFixture) -> None:
    presented = "presented-wrong-secret-5d1e"
    with caplog.at_level(logging.DEBUG):
        guarded.post_token(CLAIMS, headers=bearer(presented))
        guarded.post_token(CLAIMS, headers=bearer(TOKEN_SECRET))
        guarded.admin("GET", "/keys", secret=presented)
        guarded.add_key("ES256")
    assert "refused /token" in caplog.text and "added" in caplog.text
    for secret in (TOKEN_SECRET, ADMIN_SECRET, presented):
        assert secret not in caplog.text
    assert TOKEN_SECRET not in repr(IdpSettings(issuer="https://x", token_secret=TOKEN_SECRET))
