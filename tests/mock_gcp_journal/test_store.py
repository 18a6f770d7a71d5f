"""The journal's storage: the last N entries, one file shared by every process of a stack."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mock_gcp.journal.chains import Ring
from mock_gcp.journal.record import Record
from mock_gcp.journal.store import FileJournal, MemoryJournal
from mock_gcp.journal.tokens import decoded
from wiflab_core.decisions import Check, Decision

T = 1_800_000_000  # 2027-01-15T08:00:00Z


def exchange(issued: str) -> Record:
    decision = Decision("sts", "exchange", (Check("caller", True),))
    return Record("sts", "POST", "/v1/token", 200, decision, issued=(("access_token", issued),))


def call(token: str) -> Record:
    decision = Decision("iamcredentials", "generateIdToken", (Check("permission", True),))
    headers = {"Authorization": f"Bearer {token}"}
    return Record("iamcredentials", "POST", "/v1/x:generateIdToken", 200, decision, {}, headers)


@given(size=st.integers(1, 20), count=st.integers(0, 60))
def test_the_ring_keeps_the_last_n_and_ids_keep_growing(size, count):
    journal = MemoryJournal(size, clock=lambda: T)
    for i in range(count):
        journal.record(exchange(f"ya29.d.token-{i}"))

    entries, following = journal.select()
    assert [e["id"] for e in entries] == list(range(max(1, count - size + 1), count + 1))
    assert following == count
    assert journal.select(since=count - 1)[0] == entries[-1:]


@given(
    size=st.integers(1, 12),
    steps=st.lists(st.sampled_from(["exchange", "call", "clear"]), max_size=40),
    since=st.integers(0, 50),
)
def test_since_and_chain_select_exactly_the_entries_beyond_since(size, steps, since):
    """What a follower reads (the stream, ``wiflab log -f``): every kept entry with a greater
    id, of the chain asked, oldest first; never one twice, never one skipped."""
    ring = Ring(size)
    kept: list[dict] = []
    for i, step in enumerate(steps):
        if step == "clear":
            ring.clear()
            kept = []
            continue
        record = exchange(f"ya29.d.t{i}") if step == "exchange" else call(f"ya29.d.t{i - 1}")
        kept = [*kept, ring.add(record, T).entry][-size:]
    start = 0 if since > ring.last_id else since
    for chain in (None, *{e["chain"] for e in kept if e["chain"]}):
        found, following = ring.select(since, chain)
        expected = [e for e in kept if e["id"] > start and chain in (None, e["chain"])]
        assert [e["id"] for e in found] == [e["id"] for e in expected]
        assert following == max(start, ring.last_id)


def test_entries_carry_the_clocks_time_in_rfc3339_utc():
    journal = MemoryJournal(clock=lambda: T + 0.25)
    entry = journal.record(exchange("ya29.d.abc"))
    assert entry is not None and entry["time"] == "2027-01-15T08:00:00.250Z"


def test_a_token_forgotten_with_its_entry_no_longer_links():
    ring = Ring(2)
    ring.add(exchange("ya29.d.first"), T)
    ring.add(exchange("ya29.d.second"), T)
    ring.add(exchange("ya29.d.third"), T)  # the first exchange leaves the ring

    assert ring.add(call("ya29.d.first"), T).entry["chain"] is None
    assert ring.add(call("ya29.d.third"), T).entry["chain"] == "3"


def test_processes_sharing_the_file_read_one_journal_and_one_chain(tmp_path: Path):
    """Google's side and a Cloud Run front end are two processes: each sees the other's
    entries, ids never collide, and a call one makes joins the chain the other started."""
    path = tmp_path / "journal.jsonl"
    google, front_end = FileJournal(path, 10), FileJournal(path, 10)

    started = google.record(exchange("ya29.d.fed"))
    joined = front_end.record(call("ya29.d.fed"))

    assert started is not None and joined is not None
    assert (joined["id"], joined["chain"], joined["step"]) == (2, started["chain"], 2)
    assert [e["id"] for e in google.select()[0]] == [1, 2]


def _record_many(path: str, tag: str, count: int) -> None:
    journal = FileJournal(Path(path), 1000)
    for i in range(count):
        journal.record(exchange(f"ya29.d.{tag}-{i}"))


def test_writers_in_separate_processes_never_lose_or_repeat_an_entry(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_record_many, args=(str(path), t, 40)) for t in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0

    entries, following = FileJournal(path, 1000).select()
    assert [e["id"] for e in entries] == list(range(1, 81))
    assert following == 80


def test_the_file_is_trimmed_to_n_and_a_clear_keeps_the_ids(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    journal, reader = FileJournal(path, 5), FileJournal(path, 5)
    for i in range(23):
        journal.record(exchange(f"ya29.d.t{i}"))

    assert len(path.read_text().splitlines()) <= 2 * 5 + 1
    assert [e["id"] for e in reader.select()[0]] == [19, 20, 21, 22, 23]
    reader.clear()
    assert journal.select() == ([], 23)
    assert journal.record(exchange("ya29.d.after"))["id"] == 24  # type: ignore[index]


def test_a_line_that_is_not_json_is_skipped(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    path.write_text('not json\n{"entry": 3}\n')
    journal = FileJournal(path, 5)
    assert journal.record(exchange("ya29.d.x"))["id"] == 1  # type: ignore[index]
    links, _, entry = path.read_text().splitlines()[2].partition("\t")
    assert json.loads(links)["id"] == json.loads(entry)["id"] == 1


@settings(max_examples=300)
@given(st.text(max_size=200) | st.from_regex(r"eyJ[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_=-]{0,40}\.x"))
def test_any_token_text_is_decoded_or_left_alone(text):
    shown = decoded(text)
    assert shown is None or set(shown) == {"header", "claims", "preview"}
    if shown is not None:
        assert text.strip() not in json.dumps(shown) or len(text.strip()) <= 16


def test_a_damaged_entry_is_read_as_what_its_links_say(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    path.write_text('{"id": 7, "chain": "7", "step": 1, "issued": []}\t{"broken\n')
    entries, following = FileJournal(path, 5).select()
    assert entries == [{"id": 7, "chain": "7", "step": 1, "damaged": True}]
    assert following == 7


def test_records_made_after_their_responses_keep_the_responses_order():
    """The exchange's response went out first: its entry is numbered first even when the
    next call's record is ready before it, so the call joins the exchange's chain."""
    journal = MemoryJournal(clock=lambda: T)
    first, second = journal.reserve(), journal.reserve()
    later = threading.Thread(target=journal.record_in_turn, args=(second, call("ya29.d.fed")))
    later.start()
    journal.record_in_turn(first, exchange("ya29.d.fed"))
    later.join(5)

    entries, _ = journal.select()
    assert [(e["service"], e["chain"], e["step"]) for e in entries] == [
        ("sts", "1", 1),
        ("iamcredentials", "1", 2),
    ]
