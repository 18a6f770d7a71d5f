"""Untrusted values never break a log line: a %0A in a path cannot forge a line."""

from __future__ import annotations

import logging

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from idp_server.app import create_app
from idp_server.settings import IdpSettings
from wiflab_core.log_safe import escaped
from wiflab_core.serving import ThreadedServer


@given(st.text())
def test_any_text_stays_on_one_line_and_keeps_its_information(text: str) -> None:
    line = escaped(text)
    assert len(line.splitlines()) <= 1
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in line)
    # Different inputs stay different: the escaping loses nothing.
    assert escaped(text + "\n") != escaped(text + "\\n")


@pytest.mark.parametrize(
    ("value", "logged"),
    [
        ("a\nb", "a\\nb"),
        ("a\r\n2026-01-01 INFO forged", "a\\r\\n2026-01-01 INFO forged"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("line\u2028sep", "line\\u2028sep"),
        ("back\\slash", "back\\\\slash"),
        ("élan ✓", "élan ✓"),
    ],
)
def test_control_characters_become_visible_escapes(value: str, logged: str) -> None:
    assert escaped(value) == logged


def test_a_newline_in_a_request_path_does_not_forge_an_idp_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = ThreadedServer()
    server.app = create_app(IdpSettings(issuer=server.url, admin_secret="s" * 24))
    forged = "/admin/keys/x%0A[2026-12-01 10:00:00] [1] [INFO] idp_server.admin: key k retired"
    with server, caplog.at_level(logging.WARNING, logger="idp_server"):
        response = requests.post(server.url + forged + "/retire")
    assert response.status_code == 401
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("idp_server")]
    assert lines, "the refusal is logged"
    assert all("\n" not in line for line in lines), lines
    assert any("x\\n[2026-12-01 10:00:00]" in line for line in lines)
