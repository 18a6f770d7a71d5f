"""Each app's settings travel as the object (threads mode) or as its variables (processes
mode): ``from_env(to_env(s)) == s`` for every app, and a bad value names its variable."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp_server.errors import ConfigError
from idp_server.settings import IdpSettings
from mock_gcp.run.settings import FrontEndConfigError, FrontEndSettings
from mock_gcp.settings import GoogleSettings, SettingsError
from mock_gcp.topology import load_topology
from protected_app.settings import CLOUD_RUN_VARIABLES, Settings, VerifyMode
from protected_app.settings import SettingsError as AppError
from wiflab_lab.parts import Described, Layout, Sockets, describe

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "wif.yaml"

# Loaded CI machines generate slowly; the properties, not the speed, are under test here.
quick = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values as they appear in settings: no commas (lists travel comma-separated), no edge blanks.
word = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=12)
url = st.builds(lambda host, path: f"http://{host}.test/{path}", word, word)
paths = st.builds(lambda name: Path("/state") / name, word)


@quick
@given(paths, url, st.none() | url, st.none() | paths)
def test_google_settings_round_trip(
    topology: Path, issuer: str, idp: str | None, key_file: Path | None
) -> None:
    built = GoogleSettings(topology, google_issuer=issuer, idp_issuer=idp, key_file=key_file)
    assert GoogleSettings.from_env(built.to_env()) == built


@quick
@given(paths, word, url, url, url, url, st.none() | paths)
def test_front_end_settings_round_trip(
    topology: Path,
    service: str,
    service_url: str,
    upstream: str,
    certs: str,
    issuer: str,
    keys: Path | None,
) -> None:
    built = FrontEndSettings(
        topology, service, service_url, upstream, certs, issuer, google_keys=keys
    )
    assert FrontEndSettings.from_env(built.to_env()) == built


protected = st.one_of(
    st.builds(
        Settings,
        st.sampled_from([VerifyMode.NONE, VerifyMode.CLOUD_RUN]),
        st.tuples() | st.tuples(word) | st.tuples(word, word),
        st.tuples() | st.tuples(url),
        st.none() | url,
        st.dictionaries(st.sampled_from(CLOUD_RUN_VARIABLES), word),
    ),
    st.builds(Settings.google, st.tuples(word) | st.tuples(word, word), url),
    st.builds(
        Settings,
        st.just(VerifyMode.JWKS),
        st.tuples(word),
        st.tuples(url) | st.tuples(url, url),
        url,
    ),
)


@quick
@given(protected)
def test_protected_app_settings_round_trip(built: Settings) -> None:
    assert Settings.from_env(built.to_env()) == built


idp = st.builds(
    IdpSettings,
    issuer=st.none() | url,
    token_secret=st.none() | word,
    admin_secret=st.none() | word,
    allow_foreign_issuer=st.booleans(),
    token_ttl=st.integers(1, 3600),
    max_lifetime=st.integers(3600, 86400),
    profiles=st.dictionaries(word, st.dictionaries(word, word, max_size=2), max_size=2),
    key_state=st.none() | paths,
    key_source=st.none() | word,
)


@quick
@given(idp)
def test_idp_settings_round_trip(built: IdpSettings) -> None:
    assert IdpSettings.from_env(built.to_env()) == built


def test_unset_values_override_the_parents_environment() -> None:
    """A child gets os.environ plus to_env(): an inherited secret must not guard its IdP."""
    inherited = {"IDP_TOKEN_SECRET": "parent's", "IDP_KEY_FILE": "/parent/key.pem"}
    built = IdpSettings(issuer="http://idp.test")
    assert IdpSettings.from_env({**inherited, **built.to_env()}) == built
    app = Settings(VerifyMode.CLOUD_RUN, cloud_run={"K_SERVICE": "dump"})
    assert Settings.from_env({"PROTECTED_APP_AUDIENCE": "x", **app.to_env()}) == app


@pytest.mark.parametrize(
    ("parse", "env", "named"),
    [
        (GoogleSettings.from_env, {"WIFLAB_GOOGLE_ISSUER": "http://g"}, "WIFLAB_TOPOLOGY"),
        (
            GoogleSettings.from_env,
            {"WIFLAB_TOPOLOGY": "t.yaml", "WIFLAB_GOOGLE_ISSUER": "accounts.google.com"},
            "WIFLAB_GOOGLE_ISSUER must be an http(s) URL, not 'accounts.google.com'",
        ),
        (
            FrontEndSettings.from_env,
            {
                "WIFLAB_TOPOLOGY": "t.yaml",
                "WIFLAB_RUN_SERVICE": "dump",
                "WIFLAB_RUN_SERVICE_URL": "http://front",
                "WIFLAB_RUN_UPSTREAM": "127.0.0.1:8080",
                "WIFLAB_GOOGLE_CERTS_URL": "http://g/certs",
                "WIFLAB_GOOGLE_ISSUER": "http://g",
            },
            "WIFLAB_RUN_UPSTREAM must be an http(s) URL",
        ),
        (IdpSettings.from_env, {"IDP_TOKEN_TTL": "an hour"}, "IDP_TOKEN_TTL must be a whole"),
        (Settings.from_env, {"PROTECTED_APP_VERIFY": "sometimes"}, "PROTECTED_APP_VERIFY"),
    ],
)
def test_a_bad_value_names_its_variable(parse, env, named) -> None:
    with pytest.raises((SettingsError, ConfigError, AppError)) as caught:
        parse(env)
    assert named in str(caught.value)
    if parse is FrontEndSettings.from_env:
        assert caught.type is FrontEndConfigError


def _described(state_dir: Path, in_process: bool, **layout: Any) -> Described:
    """The stack's parts, described on ephemeral ports (closed again)."""
    sockets = Sockets("127.0.0.1", 0)
    try:
        return describe(
            Layout(
                topology=load_topology(TOPOLOGY),
                topology_path=TOPOLOGY,
                state_dir=state_dir,
                in_process=in_process,
                admin_secret="admin",
                **layout,
            ),
            sockets,
            "127.0.0.1",
        )
    finally:
        sockets.close()


@pytest.mark.parametrize("in_process", [True, False])
def test_every_part_travels_as_its_variables(tmp_path: Path, in_process: bool) -> None:
    """The stack's own description: each part's settings survive the trip to a gunicorn child,
    on the ports the port base gives (IdP +0, Google +1, explorer +3, front ends +10+2i, apps
    +11+2i)."""
    described = _described(tmp_path, in_process)
    assert (described.backend is not None) is in_process
    names = [(part.name, part.port_offset) for part in described.parts]
    assert names == [
        ("idp", 0),
        ("google", 1),
        ("app:federated-auth-cloud-run", 11),
        ("run:federated-auth-cloud-run", 10),
        ("run:idp-on-cloud-run", 12),  # its app is the IdP itself
        ("explorer", 3),
        ("aws-sts", 8),  # wif.yaml's local.aws identities: the local AWS side
        ("aws-imds", 9),
    ]
    for part in described.parts:
        assert type(part.settings).from_env(part.settings.to_env()) == part.settings
        assert bool(part.shared) is (in_process and part.name.startswith(("google", "run:")))


@pytest.mark.parametrize(("requested", "expected"), [(None, os.cpu_count() or 1), (3, 3)])
def test_google_s_side_runs_one_worker_per_core_unless_told(
    tmp_path: Path, requested: int | None, expected: int
) -> None:
    """Its workers, and every front end, read one key file in the state dir (owner only)."""
    described = _described(tmp_path, False, google_workers=requested)
    google = next(part for part in described.parts if part.name == "google")
    assert google.server.workers == expected
    key_file = google.settings.to_env()["WIFLAB_GOOGLE_KEYS"]
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    fronts = [p for p in described.parts if p.name.startswith("run:")]
    assert {p.settings.to_env()["WIFLAB_GOOGLE_KEYS"] for p in fronts} == {key_file}
