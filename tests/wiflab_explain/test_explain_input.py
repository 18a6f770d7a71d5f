"""Whatever TOKEN_OR_FILE is, a bad one is a usage error (2) naming it: never a traceback."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.wiflab_explain.conftest import explain

NOT_A_TOKEN = "wiflab explain: TOKEN_OR_FILE: "
JUNK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_usage_error(ran_status: int, err: str, names: str) -> None:
    assert ran_status == 2, err
    assert "Traceback" not in err
    assert err.startswith("wiflab explain: ")
    assert names in err


@JUNK
@given(st.text(max_size=300).filter(lambda t: not Path(t.strip() or "-").exists()))
def test_junk_arguments_are_usage_errors(argument: str) -> None:
    ran = explain("--", argument)  # after --: even "-x" is the argument
    if ran.status != 2:  # by chance a JWT-shaped, decodable string: then judged, never a crash
        assert ran.status in (0, 1) and "Traceback" not in ran.err
        return
    assert_usage_error(ran.status, ran.err, "TOKEN_OR_FILE")


@JUNK
@given(st.binary(max_size=200), st.binary(max_size=200), st.binary(max_size=50))
def test_jwt_shaped_junk_is_not_a_jwt(header: bytes, claims: bytes, signature: bytes) -> None:
    token = ".".join(_segment(part) for part in (header, claims, signature))
    ran = explain("--", token)
    if ran.status == 2:
        assert_usage_error(ran.status, ran.err, NOT_A_TOKEN)
    else:  # header and claims that happen to be JSON objects: a (refused) token
        assert ran.status == 1 and "Traceback" not in ran.err


@JUNK
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    )
)
def test_junk_files_and_configs_are_usage_errors(tmp_path_factory, value: object) -> None:
    path = tmp_path_factory.mktemp("junk") / "config.json"
    doc = {"type": "external_account", "credential_source": value}
    path.write_text(json.dumps(doc))
    ran = explain(str(path))
    assert_usage_error(ran.status, ran.err, str(path))
    path.write_text(json.dumps(value))
    ran = explain(str(path))
    assert_usage_error(ran.status, ran.err, str(path))


def test_files_that_cannot_hold_a_token(tmp_path: Path) -> None:
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00junk")
    ran = explain(str(binary))
    assert_usage_error(ran.status, ran.err, f"file {binary}: not UTF-8 text")
    config = tmp_path / "url-config.json"
    config.write_text(
        json.dumps({"type": "external_account", "credential_source": {"url": "http://x"}})
    )
    ran = explain(str(config))
    assert_usage_error(ran.status, ran.err, "credential_source.url: explain reads token files")
    ran = explain(str(tmp_path))  # a directory
    assert_usage_error(ran.status, ran.err, "is neither a JWT")
    ran = explain("--endpoints", str(tmp_path / "missing.json"), "x")
    assert ran.status == 2 and "TOKEN_OR_FILE" in ran.err  # the argument is read first
    ran = explain("--topology", str(tmp_path / "missing.yaml"), "ya29.c.x")
    assert_usage_error(ran.status, ran.err, "missing.yaml")
    assert "No such file or directory" in ran.err


def test_help_is_fast_and_loads_none_of_the_lab() -> None:
    program = (
        "import json, sys\nfrom wiflab.cli import main\nstatus = main(['explain', '--help'])\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})), file=sys.stderr)\n"
        "sys.exit(status)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: wiflab explain [OPTIONS] TOKEN_OR_FILE" in done.stdout
    loaded = set(json.loads(done.stderr.splitlines()[-1]))
    heavy = {"flask", "jwt", "requests", "yaml", "celpy", "wiflab_lab", "mock_gcp", "wiflab_core"}
    assert loaded.isdisjoint(heavy), loaded & heavy
