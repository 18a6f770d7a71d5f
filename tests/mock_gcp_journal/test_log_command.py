"""``wiflab log`` against a running stack, and the demo beside it: the same decision values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from wiflab.cli import main
from wiflab_lab.demo import DemoOptions, run
from wiflab_lab.demo.explain import shown_checks
from wiflab_lab.demo.journal import JournalReader
from wiflab_lab.stack import Stack, StackOptions

REPO = Path(__file__).resolve().parents[2]
CONDITION_REJECTED = "The given credential is rejected by the attribute condition."


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("stack")
    with Stack(StackOptions(REPO / "wif.yaml", state, "threads", port_base=0)) as stack:
        yield stack


def demo_json(stack: Stack, profile: str, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    run(DemoOptions(endpoints=stack.endpoints_path, profile=profile, json=True, colour=False))
    return json.loads(capsys.readouterr().out)


def test_the_demo_and_the_log_show_the_same_decision(stack, capsys):
    """bob's refused exchange: the demo's step 2 and the journal's entry, rendered alike."""
    reader = JournalReader(stack.endpoints.journal.url)  # type: ignore[union-attr]
    since = reader.read()[1]
    demo = demo_json(stack, "bob", capsys)

    (entry,) = [e for e in reader.read(since)[0] if e["service"] == "sts"]
    step = next(s for s in demo["steps"] if s["key"] == "sts")
    assert step["decision"] == [check.to_json() for check in shown_checks(entry)]
    condition = next(d for d in step["decision"] if d["rule"] == "attribute condition")
    assert condition == {
        "rule": "attribute condition",
        "passed": False,
        "text": "attribute.isadmin == 'true' → false",
        "details": ['with attribute.isadmin = "false"'],
    }

    assert main(["log", "--endpoints", str(stack.endpoints_path), "--chain", entry["chain"]]) == 0
    shown = capsys.readouterr().out
    assert f"══ Chain {entry['chain']}" in shown
    assert "── Step 1 · STS token exchange" in shown
    assert "✗ attribute condition: attribute.isadmin == 'true' → false" in shown
    assert 'with attribute.isadmin = "false"' in shown
    assert CONDITION_REJECTED in shown
    assert (
        "nearest miss: the condition `attribute.isadmin == 'true'` is false "
        '(it read attribute.isadmin = "false")'
    ) in shown


def test_the_log_numbers_a_whole_chain_and_prints_json_lines(stack, capsys):
    demo = demo_json(stack, "alice", capsys)
    assert demo["ok"] is True

    assert main(["log", "--endpoints", str(stack.endpoints_path), "--json"]) == 0
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    chain = [e for e in entries if e["chain"] == entries[-1]["chain"] and e["chain"]]
    assert [e["service"] for e in chain] == ["sts", "iamcredentials", "iamcredentials", "run"]
    assert [e["step"] for e in chain] == [1, 2, 3, 4]

    assert main(["log", "--endpoints", str(stack.endpoints_path)]) == 0
    text = capsys.readouterr().out
    assert "── Step 4 · Cloud Run call" in text
    assert "✓ IAM binding: allowed by roles/run.invoker" in text


def test_the_log_of_an_endpoints_file_without_a_journal_is_a_usage_error(stack, tmp_path, capsys):
    doc = json.loads(stack.endpoints_path.read_text())
    del doc["journal"], doc["explorer"]
    path = tmp_path / "endpoints.json"
    path.write_text(json.dumps(doc))

    assert main(["log", "--endpoints", str(path)]) == 2
    assert "names no journal" in capsys.readouterr().err
