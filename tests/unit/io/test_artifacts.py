"""Run folders: clean-up removes only files a run wrote; inputs among the run's files are refused;
district ids are names before they become paths."""

from __future__ import annotations

import datetime as dt

import pytest

from domain_fixtures import SAMPLE_EXPORT, make_district, make_night
from roster.config import check_district_id, find_district
from roster.errors import ConfigError, InputError
from roster.io import artifacts, store
from roster.night.pipeline import validate_night


def test_remove_written_removes_only_what_was_written(tmp_path):
    ours = artifacts.write_bytes(tmp_path / "rejects.csv", b"a\n", recorded=True)
    unrecorded = artifacts.write_bytes(tmp_path / "changes.csv", b"b\n")
    theirs = tmp_path / "qa_report.json"
    theirs.write_text("{}")
    artifacts.clear_run(tmp_path)
    assert not ours.exists() and unrecorded.exists() and theirs.exists()
    assert not (tmp_path / artifacts.MANIFEST).exists()  # nothing of ours left: no manifest either


def test_a_written_file_replaced_by_another_is_kept(tmp_path):
    path = artifacts.write_bytes(tmp_path / "changes.csv", b"x" * 200_000, recorded=True)
    path.write_bytes(b"x" * 199_999 + b"y")  # same size, another file now (the user's)
    assert artifacts.remove_written(path) is False
    assert path.exists()
    assert artifacts.remove_written(path) is False  # forgotten: never removed later either


def test_the_dag_export_copy_under_the_output_name_is_refused(tmp_path):
    """In the DAG the export copy lives in the run folder: a roster file named like it would overwrite it."""
    night = make_night(make_district({"destination.filename": "export_roster.csv"}))
    copy = tmp_path / "export_roster.csv"
    copy.write_bytes(SAMPLE_EXPORT.read_bytes())
    with pytest.raises(InputError, match=f"{copy}: the export is {copy}, a file this run writes into"):
        validate_night(night, copy, tmp_path)
    assert copy.read_bytes() == SAMPLE_EXPORT.read_bytes()


@pytest.mark.parametrize("bad", ["../../x/y", "sample_isd/../other", "Sample", "a", "x" * 42, "a.b", "", "a\n"])
def test_district_ids_are_names(bad, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="is not a district name"):
        check_district_id(bad)
    with pytest.raises(ConfigError, match="is not a district name"):
        find_district(tmp_path, bad)
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(tmp_path / "data"))
    with pytest.raises(ConfigError, match="is not a district name"), store.run_workspace(bad, dt.date(2026, 11, 20)):
        pass
    with pytest.raises(ConfigError, match="is not a district name"), store.go_live_workspace(bad, "manual__x"):
        pass
    with pytest.raises(ConfigError, match="is not a district name"):
        store.district_folders(bad)
    assert not (tmp_path / "data").exists()


def test_good_district_ids_pass():
    assert check_district_id("sample_isd") == "sample_isd"
