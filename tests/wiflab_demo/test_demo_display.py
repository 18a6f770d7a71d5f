"""What the demo prints: shortened tokens, Google's error shapes, colour only on a terminal."""

from __future__ import annotations

import os
import pty
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.wiflab_demo.conftest import REPO, RUN_LIMIT_SECONDS, WIFLAB, demo_env
from wiflab_core import keys
from wiflab_lab.demo.aws_signing import caller_identity
from wiflab_lab.demo.errors import read_error
from wiflab_lab.demo.tokens import decode, readable_time, redact, shorten
from wiflab_lab.stack import Stack

ANSI = "\033["


def test_shorten_keeps_too_little_to_use() -> None:
    token = "ya29.d." + "x" * 120 + "WXYZ"
    shown = shorten(token)
    assert shown == f"ya29.d.xxxxx…WXYZ ({len(token)} chars)"


def test_redact_shortens_tokens_anywhere_and_keeps_the_rest() -> None:
    jwt = keys.generate("RS256").sign({"sub": "alice"})
    header_and_payload = jwt.rpartition(".")[0]
    value = {
        "id_token": jwt,
        "headers": {"Authorization": f"Bearer {header_and_payload}.SIGNATURE_REMOVED_BY_GOOGLE"},
        "list": [f"token={jwt};", 3, None],
        "plain": "alice@domain.com",
    }
    shown = redact(value)
    assert shown["id_token"] == shorten(jwt)
    assert shown["headers"]["Authorization"] == (f"Bearer {jwt[:12]}….SIGNATURE_REMOVED_BY_GOOGLE")
    assert shown["list"] == [f"token={shorten(jwt)};", 3, None]
    assert shown["plain"] == "alice@domain.com"
    assert jwt not in repr(shown) and header_and_payload not in repr(shown)


def test_decode_reads_a_jwt_and_not_an_opaque_token() -> None:
    key = keys.generate("ES256")
    decoded = decode("t", key.sign({"sub": "alice", "iat": 1_700_000_000, "exp": 1_700_003_600}))
    assert decoded is not None
    assert decoded.header["alg"] == "ES256" and decoded.header["kid"] == key.kid
    assert decoded.claims["sub"] == "alice"
    assert decoded.times(1_700_000_000) == {
        "iat": "2023-11-14 22:13:20 UTC (now)",
        "exp": "2023-11-14 23:13:20 UTC (in 60 min)",
    }
    assert decode("t", "ya29.d.opaque") is None


def test_readable_time_says_past_and_future() -> None:
    assert readable_time(0, 7200).endswith("(2 h ago)")
    assert readable_time(600, 0).endswith("(in 10 min)")


@pytest.mark.parametrize(
    ("status", "text", "fields"),
    [
        (
            400,
            '{"error": "invalid_grant", "error_description": "The audience in ID Token [x] '
            'does not match the expected audience."}',
            {
                "error": "invalid_grant",
                "error_description": "The audience in ID Token [x] does not match the "
                "expected audience.",
            },
        ),
        (
            403,
            '{"error": {"code": 403, "message": "Permission denied.", "status": '
            '"PERMISSION_DENIED"}}',
            {"error.status": "PERMISSION_DENIED", "error.message": "Permission denied."},
        ),
        (
            403,
            "\n<html><head><title>403 Forbidden</title></head><body><h1>Error: Forbidden</h1>"
            "<h2>Your client does not have permission to get URL <code>/dump</code> from this "
            "server.</h2><h2></h2></body></html>",
            {"page": "Your client does not have permission to get URL /dump from this server."},
        ),
        (502, "upstream &c" * 100, {"text": ("upstream &c" * 100)[:300] + "…"}),
    ],
)
def test_googles_three_error_shapes_are_read_with_their_own_names(
    status: int, text: str, fields: dict[str, str]
) -> None:
    error = read_error(status, "Reason", text)
    assert error.status == status
    assert error.fields() == fields


def _run_on_a_terminal(*args: str, **env: str) -> str:
    """``wiflab demo ARGS`` with its stdout on a pseudo-terminal; what it printed there."""
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [*WIFLAB, "demo", *args],
        cwd=REPO,
        env=demo_env(**env),
        stdout=follower,
        stderr=subprocess.DEVNULL,
    ) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the demo has exited
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=RUN_LIMIT_SECONDS)
    os.close(leader)
    return b"".join(chunks).decode("utf-8")


def test_colour_on_a_terminal_unless_no_color(running_stack: Stack) -> None:
    endpoints = str(running_stack.endpoints_path)
    coloured = _run_on_a_terminal("--endpoints", endpoints)
    assert "── Step 5/5" in coloured
    assert ANSI in coloured
    plain = _run_on_a_terminal("--endpoints", endpoints, NO_COLOR="1")
    assert "── Step 5/5" in plain
    assert ANSI not in plain


# -- AWS: what AWS's STS answered, read from any bytes -------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    body=st.text(max_size=300)
    | st.builds(
        lambda tag, text: f"<R><{tag}>{text}</{tag}></R>",
        st.sampled_from(["Arn", "Account", "UserId", "Other"]),
        st.text(max_size=40),
    )
)
def test_any_aws_answer_is_read_or_refused_never_raised(body: str) -> None:
    identity = caller_identity(body)
    assert identity is None or set(identity) == {"Arn", "Account", "UserId"}


def test_aws_answer_is_read_in_awss_namespace() -> None:
    body = (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<GetCallerIdentityResult><Arn>arn:aws:iam::111122223333:user/svcacct1</Arn>"
        "<UserId>AIDAEXAMPLE</UserId><Account>111122223333</Account>"
        "</GetCallerIdentityResult></GetCallerIdentityResponse>"
    )
    assert caller_identity(body) == {
        "Arn": "arn:aws:iam::111122223333:user/svcacct1",
        "Account": "111122223333",
        "UserId": "AIDAEXAMPLE",
    }
    assert caller_identity("<ErrorResponse><Error><Code>X</Code></Error></ErrorResponse>") is None
