"""IdpSettings from IDP_* variables: every value parsed, every mistake named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from idp_server.app import create_app
from idp_server.errors import ConfigError
from idp_server.settings import IdpSettings
from wiflab_core.keys import generate


def test_from_env_reads_every_variable(tmp_path: Path) -> None:
    key = generate("ES256")
    (tmp_path / "key.pem").write_text(key.private_pem())
    (tmp_path / "profiles.yaml").write_text("alice:\n  sub: alice\n  aud: aud-1\n")
    settings = IdpSettings.from_env(
        {
            "IDP_ISSUER": "https://idp.example/",
            "IDP_BIND_HOST": "0.0.0.0",
            "IDP_TOKEN_SECRET": "s",
            "IDP_ADMIN_SECRET": "a",
            "IDP_ALLOW_FOREIGN_ISSUER": "1",
            "IDP_TOKEN_TTL": "600",
            "IDP_MAX_LIFETIME": "7200",
            "IDP_PROFILES": str(tmp_path / "profiles.yaml"),
            "IDP_KEY_FILE": str(tmp_path / "key.pem"),
        }
    )
    assert settings.issuer == "https://idp.example"
    assert (settings.bind_host, settings.minting_secret, settings.admin_secret) == (
        "0.0.0.0",
        "s",
        "a",
    )
    assert settings.allow_foreign_issuer and (settings.token_ttl, settings.max_lifetime) == (
        600,
        7200,
    )
    assert settings.profiles == {"alice": {"sub": "alice", "aud": "aud-1"}}
    app = create_app(settings)
    assert app.test_client().get("/certs").json["keys"][0]["kid"] == key.kid


def test_profiles_as_inline_json_and_overrides_win() -> None:
    settings = IdpSettings.from_env(
        {"IDP_ISSUER": "https://a", "IDP_PROFILES": json.dumps({"p": {"sub": "x"}})},
        issuer="https://b",
    )
    assert settings.issuer == "https://b" and settings.profiles == {"p": {"sub": "x"}}


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"IDP_TOKEN_TTL": "1h"}, "IDP_TOKEN_TTL"),
        ({"IDP_MAX_LIFETIME": "-5"}, "max_lifetime"),
        ({"IDP_TOKEN_TTL": "90000"}, "IDP_TOKEN_TTL (90000) exceeds IDP_MAX_LIFETIME"),
        ({"IDP_ALLOW_FOREIGN_ISSUER": "maybe"}, "IDP_ALLOW_FOREIGN_ISSUER"),
        ({"IDP_PROFILES": "{bad"}, "IDP_PROFILES is not valid JSON"),
        ({"IDP_PROFILES": "/no/such/profiles.yaml"}, "IDP_PROFILES: cannot load"),
        ({"IDP_PROFILES": '{"p": "not claims"}'}, "profile 'p'"),
        ({"IDP_KEY_FILE": "/no/such/key.pem"}, "IDP_KEY_FILE: cannot read"),
        ({"IDP_ISSUER": "idp.example"}, "must be an http(s) URL"),
        ({"IDP_ISSUER": "https://x/?q=1"}, "query or fragment"),
        ({"IDP_ISSUER_FROM_HOST": "1"}, "not both"),
    ],
)
def test_bad_settings_are_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        IdpSettings.from_env({"IDP_ISSUER": "https://idp.example", **env})
    assert named in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (IdpSettings(), "no issuer"),
        (IdpSettings(issuer="https://i", key_source="garbage"), "--key-file, IDP_KEY_FILE"),
        (IdpSettings(issuer="https://i", key_state=Path("/no/such/state")), "IDP_KEY_STATE"),
        (
            IdpSettings(issuer="https://i", profiles={"p": {"iss": "https://other"}}),
            "profile 'p': iss:",
        ),
        (
            IdpSettings(issuer="https://i", profiles={"p": {"iat": 0, "exp": 10**6}}),
            "profile 'p': exp:",
        ),
    ],
)
def test_create_app_refuses_what_every_request_would_fail_on(
    settings: IdpSettings, named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        create_app(settings)
    assert named in str(caught.value)
