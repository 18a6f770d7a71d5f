"""`wiflab lint` as a user runs it: exit statuses, formats, output file, clear input errors;
and the same rules as warnings when `wiflab up` loads a topology."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.lint.helpers import topology
from wiflab.cli import main


def write(tmp_path: Path, doc: object, name: str = "wif.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False) if not isinstance(doc, str) else doc)
    return path


def condition_line(path: Path) -> int:
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if "attributeCondition:" in line)


def test_an_error_level_finding_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, topology(attributeCondition="assertion.repository_owner_id == 1342004"))
    assert main(["lint", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:{condition_line(path)}: error WIF003 id-compared-as-number" in out
    assert "1 error, 0 warnings, 0 notes" in out


def test_warnings_only_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    condition = "assertion.repository_owner == 'acme'"
    assert main(["lint", str(write(tmp_path, topology(attributeCondition=condition)))]) == 0
    assert "warning WIF002" in capsys.readouterr().out


def test_a_clean_setup_exits_0_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", str(write(tmp_path, topology()))]) == 0
    assert capsys.readouterr().out == "no findings\n"


def test_json_and_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path, topology(attributeCondition=None, oidc={"issuerUri": "https://gitlab.com"})
    )
    report = tmp_path / "out" / "lint.json"
    report.parent.mkdir()
    assert main(["lint", str(path), "--format", "json", "--output", str(report)]) == 1
    assert capsys.readouterr().out == ""
    doc = json.loads(report.read_text())
    first = doc["findings"][0]
    assert first["id"] == "WIF001"
    assert first["severity"] == "error"
    assert first["resource"] == "pools[0].providers[0].attributeCondition"
    assert first["source"].startswith("https://cloud.google.com/iam/docs/")
    assert doc["summary"]["error"] >= 1


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read"),
        ("project: [unclosed", "neither JSON nor YAML"),
        ("just: a mapping\n", "not a wiflab topology"),
        (
            "project: {id: demo-project, number: '1'}\npools:\n  - id: pool\n    providers:\n"
            "      - id: p\n        attributeMapping: [google.subject]\n",
            "pools[0].providers[0].attributeMapping: must be a mapping, not list",
        ),
        (
            '{"bindings": [{"role": "roles/iam.workloadIdentityUser", "members": "user:a@b.c"}]}',
            "bindings[0].members: must be a list, not str",
        ),
    ],
    ids=["missing", "bad-yaml", "unknown-kind", "mapping-not-a-map", "members-not-a-list"],
)
def test_unreadable_input_exits_2_naming_the_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, expected: str
) -> None:
    path = tmp_path / "input.yaml"
    if content is not None:
        path.write_text(content)
    assert main(["lint", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"wiflab lint: {path}: ")
    assert expected in err
    assert "Traceback" not in err


def test_unwritable_output_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, topology())
    assert main(["lint", str(path), "--output", str(tmp_path / "no" / "such" / "dir")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_wiflab_up_prints_the_findings_as_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import wiflab_lab.up

    started = []
    monkeypatch.setattr(wiflab_lab.up, "serve_until_signalled", started.append)
    bad = write(tmp_path, topology(attributeCondition="assertion.repository_owner_id == 1342004"))
    up = ["up", "--port-base", "0", "--state-dir"]
    assert main([*up, str(tmp_path / "state"), "--topology", str(bad)]) == 0
    assert len(started) == 1  # the stack is started anyway
    err = capsys.readouterr().err
    assert f"wiflab: warning: {bad}:{condition_line(bad)}: WIF003 id-compared-as-number" in err
    assert "`wiflab lint" in err
    clean = write(tmp_path, topology(), "clean.yaml")
    assert main([*up, str(tmp_path / "s2"), "--topology", str(clean)]) == 0
    assert capsys.readouterr().err == ""
