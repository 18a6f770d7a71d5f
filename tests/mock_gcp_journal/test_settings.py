"""The journal's settings from the environment: bad values are refused by their variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_gcp.journal.settings import JournalSettings, JournalSettingsError
from mock_gcp.journal.store import FileJournal, MemoryJournal, NoJournal
from mock_gcp.settings import GoogleSettings


def test_the_defaults_keep_a_thousand_entries_in_memory():
    settings = JournalSettings.from_env({})
    assert (settings.file, settings.size, settings.enabled) == (None, 1000, True)
    assert isinstance(settings.open(), MemoryJournal)


def test_google_settings_carry_the_journal_to_a_child_process(tmp_path: Path):
    settings = GoogleSettings(
        tmp_path / "wif.yaml",
        google_issuer="http://127.0.0.1:1",
        journal=JournalSettings(tmp_path / "journal.jsonl", 50),
        admin_secret="admin",
    )
    again = GoogleSettings.from_env(settings.to_env())
    assert again == settings and again.admin_secret == "admin"
    assert "admin" not in repr(settings)
    assert isinstance(again.journal.open(), FileJournal)


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"WIFLAB_JOURNAL_SIZE": "lots"}, "WIFLAB_JOURNAL_SIZE"),
        ({"WIFLAB_JOURNAL_SIZE": "0"}, "WIFLAB_JOURNAL_SIZE"),
        ({"WIFLAB_JOURNAL_SIZE": "-3"}, "WIFLAB_JOURNAL_SIZE"),
        ({"WIFLAB_JOURNAL": "maybe"}, "WIFLAB_JOURNAL"),
    ],
)
def test_a_bad_value_names_its_variable(variables, named):
    with pytest.raises(JournalSettingsError, match=named):
        JournalSettings.from_env(variables)


def test_off_is_off():
    assert isinstance(JournalSettings.from_env({"WIFLAB_JOURNAL": "off"}).open(), NoJournal)
