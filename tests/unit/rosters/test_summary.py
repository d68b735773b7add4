"""The Rosters view's figures (``roster.rosters.summary``) on the artifacts of real offline nights
(``roster run`` into the data root, where the DAG writes them)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from domain_fixtures import SAMPLE_EXPORT
from roster.cli import main
from roster.config import find_district, include_root
from roster.rosters.summary import AirflowFacts, Failure, Hold, district_summary, nights

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def _night(data_root: Path, day: str, capsys) -> dict:
    out = data_root / "sample_isd" / day
    assert (
        main(["run", "--district", "sample_isd", "--input", str(SAMPLE_EXPORT), "--out", str(out), "--date", day]) == 0
    )
    capsys.readouterr()
    return json.loads((out / "qa_report.json").read_text())


def _delivered(data_root: Path, day: str, at: dt.datetime) -> None:
    from roster.night.snapshot import write_snapshot

    folder = data_root / "sample_isd" / "snapshot"
    delivered = data_root / "sample_isd" / day / f"sample_isd_roster_{day.replace('-', '')}.txt"
    write_snapshot(folder, pd.DataFrame({"state_test_number": ["1"]}), dt.date.fromisoformat(day), delivered, at)


def test_a_district_with_nights_and_a_delivery(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(data))
    first = _night(data, "2026-11-20", capsys)
    second = _night(data, "2026-11-21", capsys)
    _delivered(data, "2026-11-20", NOW - dt.timedelta(hours=50))
    district = find_district(include_root(), "sample_isd")

    summary = district_summary(district, AirflowFacts(), NOW, 36)

    assert summary.last_delivered == "2026-11-20"
    assert (summary.rows_delivered, summary.rows_rejected) == (first["rows_delivered"], first["rows_rejected"])
    assert summary.reject_rate == first["reject_rate"] and first["rows_rejected"] == 14
    # 50 hours since the last delivery, above the watchdog's 36: stale, as the watchdog would alert.
    assert summary.staleness.stale and summary.staleness.hours_since_delivery == 50.0
    assert summary.state == "stale" and summary.pending_hold is None and summary.last_failure is None

    shown = nights("sample_isd", 30, {"2026-11-21": "scheduled__x"}, dt.date(2026, 11, 22))
    assert [n.date for n in shown] == ["2026-11-21", "2026-11-20"]
    assert shown[0].run_id == "scheduled__x" and shown[1].run_id is None
    assert shown[0].rejects_by_reason == second["rejects_by_reason"]
    assert shown[0].rows_read == second["rows_read"] and shown[0].verdict == second["verdict"]
    assert shown[0].changes["added"] == second["changes"]["added"]
    # The window: one day back from 2026-11-22 is 2026-11-22 alone.
    assert nights("sample_isd", 1, {}, dt.date(2026, 11, 22)) == []


def test_holds_and_failures_come_from_airflow_and_set_the_state(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(data))
    _night(data, "2026-11-21", capsys)
    _delivered(data, "2026-11-21", NOW - dt.timedelta(hours=2))
    district = find_district(include_root(), "sample_isd")
    hold = Hold(run_id="manual__1", url="/dags/roster_sample_isd/runs/manual__1/tasks/review_hold/required_actions")
    failure = Failure(task_id="upload_roster", run_id="run-21", error="SFTP down")

    assert district_summary(district, AirflowFacts(), NOW, 36).state == "ok"
    assert district_summary(district, AirflowFacts(holds={"sample_isd": hold}), NOW, 36).pending_hold == hold
    failed = AirflowFacts(failures={"sample_isd": failure}, run_ids={"sample_isd": {"2026-11-21": "run-21"}})
    assert district_summary(district, failed, NOW, 36).state == "failed"
    # A failure of an older run than the newest night's does not make the district failed now.
    older = AirflowFacts(failures={"sample_isd": failure}, run_ids={"sample_isd": {"2026-11-21": "run-22"}})
    summary = district_summary(district, older, NOW, 36)
    assert summary.state == "ok" and summary.last_failure == failure


def test_a_district_that_never_ran(tmp_path, monkeypatch):
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(tmp_path / "data"))
    district = find_district(include_root(), "sample_isd_xlsx")
    summary = district_summary(district, AirflowFacts(), NOW, 36)
    assert summary.state == "stale" and summary.last_delivered is None and summary.rows_delivered is None
    assert summary.to_json()["staleness"]["hours_since_delivery"] is None


def _district_page(shown: list) -> str:
    """district.html.j2 rendered as the app renders it (autoescaped, strict), charts left out."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(include_root() / "templates" / "rosters"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("district.html.j2").render(
        district=find_district(include_root(), "sample_isd"),
        nights=shown,
        charts={},
        charts_missing="test",
        days=30,
        dag_id="roster_sample_isd",
        run_url=lambda run_id: f"/dags/roster_sample_isd/runs/{run_id}",
    )


def test_who_answered_a_hold_is_in_the_json_and_on_the_district_page(tmp_path, monkeypatch, capsys):
    from roster.night.qa import load_report, save_report

    data = tmp_path / "data"
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(data))
    _night(data, "2026-11-20", capsys)
    _night(data, "2026-11-21", capsys)
    approved, rejected = data / "sample_isd" / "2026-11-20", data / "sample_isd" / "2026-11-21"
    save_report(
        approved, load_report(approved).delivered(approved_by="lee.reviewer", approved_at="2026-11-20T14:05:00+00:00")
    )
    save_report(
        rejected, load_report(rejected).rejected(rejected_by="qa.hold_timeout", rejected_at="2026-11-21T20:00:00+00:00")
    )

    newer, older = nights("sample_isd", 30, {}, dt.date(2026, 11, 22))
    assert (older.approved_by, older.approved_at) == ("lee.reviewer", "2026-11-20T14:05:00+00:00")
    assert older.rejected_by is None and older.rejected_at is None
    assert newer.to_json()["rejected_by"] == "qa.hold_timeout"
    assert newer.to_json()["rejected_at"] == "2026-11-21T20:00:00+00:00"
    assert newer.approved_by is None

    page = _district_page([newer, older])
    assert "approved by lee.reviewer at 2026-11-20T14:05:00+00:00" in page
    assert "rejected by qa.hold_timeout at 2026-11-21T20:00:00+00:00" in page
    assert page.count("approved by") == 1 and page.count("rejected by") == 1
    # The anchor the hold's request links to (roster.airflow.hold.rosters_url): one row per night.
    assert '<tr id="night-2026-11-21" data-night="2026-11-21">' in page
    assert '<tr id="night-2026-11-20" data-night="2026-11-20">' in page
