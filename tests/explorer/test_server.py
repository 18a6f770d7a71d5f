"""The explorer's server without a browser: its API on a real stack, both modes, and bad input
(never a 5xx, a clear error naming the field)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wiflab_lab.stack import Stack, StackOptions
from wiflab_lab.testing import example_topology

CONDITION_TEXT = "The given credential is rejected by the attribute condition."
DENIED_TEXT = (
    "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist)."
)


def failed_step(result: dict) -> dict:
    return next(step for step in result["steps"] if not step["ok"])


def test_in_processes_mode_try_break_and_restore_reach_every_process(tmp_path: Path):
    """The explorer, Google's side and each front end are separate gunicorn processes: a
    topology the explorer applies is in force in all of them, and Restore undoes it."""
    options = StackOptions(example_topology(), tmp_path, mode="processes", port_base=0)
    with Stack(options) as stack:
        assert stack.endpoints.explorer is not None
        url = stack.endpoints.explorer.url
        assert url.startswith("http://127.0.0.1:")
        assert requests.post(f"{url}/api/try", json={}, timeout=60).json()["ok"] is True

        broken = requests.post(f"{url}/api/break/remove-binding", json={}, timeout=60).json()
        step = failed_step(broken)
        assert (step["key"], step["error"]["message"]) == ("id_token", DENIED_TEXT)
        refused = [e for e in broken["journal"] if e["outcome"] == "refused"]
        assert refused and refused[-1]["refusal"]["text"] == DENIED_TEXT

        assert requests.post(f"{url}/api/restore", json={}, timeout=30).status_code == 200
        assert requests.post(f"{url}/api/try", json={}, timeout=60).json()["ok"] is True


def test_the_journal_stream_is_relayed_from_last_event_id(explorer_url):
    before = requests.get(f"{explorer_url}/api/journal", timeout=10).json()["next"]
    assert requests.post(f"{explorer_url}/api/try", json={}, timeout=60).json()["ok"]
    stream = requests.get(
        f"{explorer_url}/api/journal/stream",
        headers={"Last-Event-ID": str(before)},
        timeout=30,
    )
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    events = [block for block in stream.text.split("\n\n") if "event: entry" in block]
    entries = [json.loads(block.split("data: ", 1)[1]) for block in events]
    assert entries and all(entry["id"] > before for entry in entries)
    assert {entry["service"] for entry in entries} >= {"sts", "iamcredentials", "run"}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "named"),
    [
        ("post", "/api/try", {"json": {"profile": "zed"}}, 400, "profile"),
        ("post", "/api/try", {"json": {"claims": [1]}}, 400, "claims"),
        ("post", "/api/try", {"json": [1]}, 400, "body"),
        (
            "post",
            "/api/try",
            {"data": "{", "headers": {"Content-Type": "application/json"}},
            400,
            "body",
        ),
        ("post", "/api/try", {"data": "profile=alice"}, 415, "Content-Type"),
        ("post", "/api/break/nothing", {"json": {}}, 404, "exercise"),
        ("get", "/", {"headers": {"Host": "attacker.example"}}, 403, "host"),
        ("post", "/api/try", {"json": {"claims": {str(i): i for i in range(65)}}}, 400, "claims"),
    ],
)
def test_bad_requests_are_named(explorer_url, method, path, kwargs, status, named):
    answer = getattr(requests, method)(explorer_url + path, timeout=30, **kwargs)
    assert answer.status_code == status
    assert answer.json()["error"]["field"] == named


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(profile=_JSON, claims=_JSON)
def test_try_it_never_answers_a_5xx(explorer_url, profile, claims):
    answer = requests.post(
        f"{explorer_url}/api/try", json={"profile": profile, "claims": claims}, timeout=60
    )
    assert answer.status_code in (200, 400), answer.text
    if answer.status_code == 400:
        assert answer.json()["error"]["field"] in ("profile", "claims")
