"""``roster status``: every district's mode, last delivered night, last QA verdict and next run."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from domain_fixtures import SAMPLE_EXPORT, copy_include, district_data, make_district, set_key, write_district
from roster.cli import main
from roster.golive.status import next_run

UTC = dt.UTC


def _status(capsys, *args: str) -> tuple[int, dict[str, list[str]], str]:
    code = main(["status", *args])
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    rows = {}
    if lines:
        assert lines[0].split() == ["district", "mode", "last_delivered", "last_qa", "next_run", "go_live"]
        rows = {line.split("  ")[0]: [c.strip() for c in line.split("  ") if c.strip()] for line in lines[1:]}
    return code, rows, captured.err


def _night(data_root: Path, day: str, capsys, *extra: str) -> Path:
    """A real offline night (``roster run``) whose artifacts land where the DAG would put them."""
    out = data_root / "sample_isd" / day
    main(["run", "--district", "sample_isd", "--input", str(SAMPLE_EXPORT), "--out", str(out), "--date", day, *extra])
    capsys.readouterr()
    return out


def test_a_district_that_never_ran(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(tmp_path / "data"))
    code, rows, err = _status(capsys)
    assert code == 0 and err == ""
    # The clock is pinned (tests/conftest.py PINNED_NOW): 2026-11-20 12:00 UTC is 06:00 in Chicago, so
    # the sample's daily 02:00 run is next due the following night, in standard time (UTC-6).
    assert rows["sample_isd"] == ["sample_isd", "live", "never", "none", "2026-11-21T02:00:00-06:00"]


def test_the_table_on_a_day_inside_the_blackout(tmp_path, monkeypatch, capsys, pinned_clock):
    """From 2027-06-04 on the sample's next run falls in its blackout (2027-06-05..2027-08-10), and the
    cell says so: what the unpinned test used to trip over."""
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(tmp_path / "data"))
    pinned_clock.move_to(dt.datetime(2027, 6, 4, 12, 0, tzinfo=UTC))
    code, rows, _ = _status(capsys)
    assert code == 0
    assert rows["sample_isd"][4] == "2027-06-05T02:00:00-05:00 (blackout until 2027-08-10)"


def test_last_delivery_and_last_verdict(tmp_path, monkeypatch, capsys):
    from roster.night.snapshot import write_snapshot

    data_root = tmp_path / "data"
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(data_root))
    first = _night(data_root, "2026-11-19", capsys)
    snapshot = data_root / "sample_isd" / "snapshot"
    snapshot.mkdir(parents=True)
    write_snapshot(
        snapshot,
        pd.DataFrame({"state_test_number": ["0001"]}),
        dt.date(2026, 11, 19),
        first / "sample_isd_roster_20261119.txt",
    )
    _night(data_root, "2026-11-20", capsys)
    code, rows, _ = _status(capsys)
    assert code == 0
    assert rows["sample_isd"][2:4] == ["2026-11-19", "passed (2026-11-20)"]

    # A stricter night fails QA: the newest verdict is the failure.
    include = copy_include(tmp_path)
    write_district(include, set_key(district_data(), "qa.max_reject_rate", 0.01))
    _night(data_root, "2026-11-21", capsys, "--include-dir", str(include))
    (data_root / "sample_isd" / "2026-11-22").mkdir()  # a night whose export never came: no report yet
    assert _status(capsys)[1]["sample_isd"][2:4] == ["2026-11-19", "failed (2026-11-21)"]


def test_a_held_night(tmp_path, monkeypatch, capsys):
    data_root = tmp_path / "data"
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(data_root))
    night = _night(data_root, "2026-11-20", capsys)
    report_path = night / "qa_report.json"
    report = json.loads(report_path.read_text())
    report.update(held=True, rows_delivered=0)
    report_path.write_text(json.dumps(report))
    assert _status(capsys)[1]["sample_isd"][3] == "held (2026-11-20)"
    report.update(rows_delivered=286, approved_by="reviewer")  # approved and delivered
    report_path.write_text(json.dumps(report))
    assert _status(capsys)[1]["sample_isd"][3] == "passed (2026-11-20)"


def test_every_district_and_its_mode(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(tmp_path / "data"))
    include = copy_include(tmp_path)
    second = district_data()
    second.update(
        district_id="second_isd", name="Second ISD", mode="qa", timezone="America/New_York", schedule="30 5 * * 1-5"
    )
    write_district(include, second, "second_isd")
    code, rows, _ = _status(capsys, "--include-dir", str(include))
    assert code == 0
    assert sorted(rows) == ["sample_isd", "sample_isd_oneroster", "sample_isd_xlsx", "second_isd"]
    assert rows["second_isd"][1] == "qa"
    # Pinned on Friday 2026-11-20 07:00 in New York: the weekday 05:30 run is next due on Monday, in EST.
    assert rows["second_isd"][4] == "2026-11-23T05:30:00-05:00"
    assert rows["sample_isd"][4] == "2026-11-21T02:00:00-06:00"


def test_object_storage_data_root_is_not_read(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ROSTER_DATA_ROOT", "s3://roster-bucket/prefix")
    code, rows, _ = _status(capsys)
    assert code == 0
    assert rows["sample_isd"][2:4] == ["unknown (object storage)", "unknown (object storage)"]


def test_default_data_root_is_under_airflow_home(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ROSTER_DATA_ROOT", raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    pointer = tmp_path / "home" / "roster-data" / "sample_isd" / "snapshot" / "snapshot.json"
    pointer.parent.mkdir(parents=True)
    pointer.write_text(json.dumps({"date": "2026-10-01", "file": "snapshot-2026-10-01.parquet"}))
    assert _status(capsys)[1]["sample_isd"][2] == "2026-10-01"


def test_broken_district_is_an_error_and_the_others_still_show(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(tmp_path / "data"))
    include = copy_include(tmp_path)
    write_district(include, dict(district_data(), district_id="broken_isd", timezone="Mars/Olympus"), "broken_isd")
    code, rows, err = _status(capsys, "--include-dir", str(include))
    assert code == 2
    assert list(rows) == ["sample_isd", "sample_isd_oneroster", "sample_isd_xlsx"]
    assert err.startswith("error: ") and "broken_isd.yaml" in err and "timezone" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (dt.datetime(2026, 11, 20, 7, 59, tzinfo=UTC), "2026-11-20T02:00:00-06:00"),  # 01:59 in Chicago
        (dt.datetime(2026, 11, 20, 8, 0, tzinfo=UTC), "2026-11-21T02:00:00-06:00"),  # just ran
        (dt.datetime(2027, 6, 1, 12, 0, tzinfo=UTC), "2027-06-02T02:00:00-05:00"),  # summer time
        (dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC), "2026-08-01T02:00:00-05:00"),  # before start_date
    ],
)
def test_next_run_in_district_time(now, expected):
    assert next_run(make_district(), now).isoformat() == expected


def test_next_run_inside_a_blackout_window_says_so(tmp_path, monkeypatch):
    from roster.golive.status import district_status

    monkeypatch.setenv("ROSTER_DATA_ROOT", str(tmp_path))
    during = dt.datetime(2027, 6, 6, 12, 0, tzinfo=UTC)
    status = district_status(make_district(), now=during)
    assert status.next_run == "2027-06-07T02:00:00-05:00 (blackout until 2027-08-10)"
    after = district_status(make_district(), now=dt.datetime(2027, 8, 11, 12, 0, tzinfo=UTC))
    assert after.next_run == "2027-08-12T02:00:00-05:00"
