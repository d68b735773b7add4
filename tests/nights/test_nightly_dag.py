"""Whole nights through Airflow (``dag.test()`` on its SQLite database) against real SFTP and SMTP servers."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import INCLUDE, ObjectStore

pytestmark = pytest.mark.e2e

NIGHT = dt.date(2026, 11, 20)
# 02:00 in America/Chicago (CST, UTC-6) on the roster date.
LOGICAL = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
EXPORT = INCLUDE / "inbound" / "sample_isd" / "roster_20261120.csv"
REMOTE = Path("upload/sample_isd/sample_isd_roster_20261120.txt")


def _dag(root: Path):
    from roster.airflow.nightly import build_all

    return build_all(root=root)["roster_sample_isd"]


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _asset_events(run) -> list[tuple[str, dict]]:
    """The asset events this run emitted: (asset uri, extra), from Airflow's database."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.uri, AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetEvent.source_run_id == run.run_id, AssetEvent.source_dag_id == run.dag_id)
        ).all()
    return [(uri, dict(extra)) for uri, extra in rows]


def _private_values(export: Path) -> set[str]:
    """Distinctive names and every date of birth in the export, to look for where they must not be."""
    import csv

    values: set[str] = set()
    with export.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            values.add(row["DOB"])
            values.update(v for v in (row["FIRST_NAME"], row["LAST_NAME"]) if len(v) >= 5)
    values.discard("")
    return values


def _expected_roster(tmp_path: Path) -> bytes:
    from roster.cli import main

    out = tmp_path / "expected"
    assert (
        main(
            ["run", "--district", "sample_isd", "--input", str(EXPORT), "--out", str(out), "--date", NIGHT.isoformat()]
        )
        == 0
    )
    return (out / REMOTE.name).read_bytes()


def test_passing_night_delivers_the_roster(night_env: dict, tmp_path: Path) -> None:
    run = _dag(INCLUDE).test(logical_date=LOGICAL)

    assert str(run.state) == "success", _states(run)
    states = _states(run)
    assert states["upload_roster"] == "success"
    assert states["notify_qa_failure"] == "skipped"

    sftp_root: Path = night_env["sftp_root"]
    delivered = (sftp_root / REMOTE).read_bytes()
    assert delivered == _expected_roster(tmp_path)
    lines = delivered.decode("utf-8").split("\r\n")
    assert lines[0].startswith("State IDNumber|Local ID|First Name")
    assert len([line for line in lines[1:] if line]) == 286
    # Nothing else on the server: no temporary upload left behind.
    assert sorted(p.name for p in (sftp_root / REMOTE.parent).iterdir()) == [REMOTE.name]

    run_dir = night_env["data_root"] / "sample_isd" / NIGHT.isoformat()
    report = json.loads((run_dir / "qa_report.json").read_text())
    assert report["passed"] is True and report["rows_delivered"] == 286 and report["rows_rejected"] == 14
    assert (run_dir / "export_roster_20261120.csv").read_bytes() == EXPORT.read_bytes()
    assert report["offending_values"] == {
        "unknown_campus": {"999": 1},
        "unknown_diagnosis": {"XX": 1},
        "unknown_grade": {"13": 1},
        "unknown_status": {"W": 1},
    }
    _assert_summary(night_env["smtp"].messages(), report)
    # One asset event, the delivery: the file's roster date, rows and digest (no student data).
    import hashlib

    assert _asset_events(run) == [
        (
            "roster://sample_isd/",
            {
                "district_id": "sample_isd",
                "roster_date": "2026-11-20",
                "mode": "live",
                "remote_path": "/" + REMOTE.as_posix(),
                "rows": 286,
                "sha256": hashlib.sha256(delivered).hexdigest(),
            },
        )
    ]


def _assert_summary(messages: list, report: dict) -> None:
    """The one email of a passing night with rejects: the summary, to the point person, cc the coordinator."""
    assert [(m["To"], m["Cc"]) for m in messages] == [("it@sample.k12.example", "coordinator@example.org")]
    (message,) = messages
    assert message["Subject"].startswith("[roster] Sample ISD (sample_isd) 2026-11-20: delivered 286 students, 14 rows")
    assert message.get_content_type() == "multipart/mixed"
    (alternative,) = [p for p in message.iter_parts() if p.get_content_type() == "multipart/alternative"]
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    # The offending codes with their rows, the district's date format and status words, and the contact.
    assert "Codes found: 13 (1 row)" in text and "Add each code to crossmatch/sample_isd/grades.csv" in text
    assert "Codes found: 999 (1 row)" in text and "Codes found: W (1 row)" in text
    assert "MM/DD/YYYY, such as 01/31/2014" in text and "active: A; inactive: I" in text
    assert "Questions about a code or a fix: coordinator@example.org" in text
    assert "<code>13</code> (1 row)" in html and "<" not in text.replace("<masked>", "")
    rejects = next(p for p in message.iter_attachments() if p.get_filename() == "rejects.csv").get_content()
    rejects = rejects.decode() if isinstance(rejects, bytes) else rejects
    assert len(rejects.splitlines()) == 1 + sum(report["rejects_by_reason"].values())
    raw = message.as_string()
    assert [v for v in _private_values(EXPORT) if v in raw or v in text or v in html] == []


def test_failing_night_sends_nothing_and_emails_the_point_person(night_env: dict, include_copy: Path) -> None:
    district_file = include_copy / "districts" / "sample_isd.yaml"
    config = yaml.safe_load(district_file.read_text())
    config["qa"]["max_reject_rate"] = 0.01
    district_file.write_text(yaml.safe_dump(config))

    run = _dag(include_copy).test(logical_date=LOGICAL)

    assert str(run.state) == "failed"
    states = _states(run)
    assert states["notify_qa_failure"] == "failed"
    assert states["build_roster"] == "success" and states["upload_roster"] == "skipped"
    assert states["notify_summary"] == "skipped"
    assert not any(p.is_file() for p in night_env["sftp_root"].rglob("*"))

    messages = night_env["smtp"].messages()
    assert sorted(m["To"] for m in messages) == ["data-oncall@example.org", "it@sample.k12.example"]
    message = next(m for m in messages if m["To"] == "it@sample.k12.example")
    oncall = next(m for m in messages if m["To"] == "data-oncall@example.org")
    assert oncall["Subject"] == "[roster FAILED] sample_isd 2026-11-20: notify_qa_failure"
    oncall_body = oncall.get_body(("html",)).get_content()
    assert "QA failed, nothing sent: 14 of 300 rows rejected" in oncall_body
    assert "/dags/roster_sample_isd/runs/" in oncall_body and "/tasks/notify_qa_failure" in oncall_body
    assert "QA failed" in oncall_body and "RUNBOOK" in oncall_body
    assert message["Cc"] == "coordinator@example.org"
    assert (
        "Sample ISD" in message["Subject"] and "2026-11-20" in message["Subject"] and "QA failed" in message["Subject"]
    )
    body = message.get_body(("html",)).get_content()
    assert "14 of 300 rows rejected" in body
    assert re.search(r"duplicate_state_id</td><td>state_test_number</td><td>2</td>", body)
    text = message.get_body(("plain",)).get_content()
    assert "* duplicate_state_id (state_test_number): 2 rows" in text and "Codes found: 999 (1 row)" in text
    assert "cross-match table" in body
    attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    rejects = attachments["rejects.csv"]
    rejects = rejects.decode() if isinstance(rejects, bytes) else rejects
    assert rejects.splitlines()[0] == "row_number,state_test_number,field,reason"
    assert len(rejects.splitlines()) == 15

    raw = message.as_string() + oncall.as_string()
    leaked = [v for v in _private_values(EXPORT) if v in raw or v in body or v in oncall_body]
    assert leaked == []

    run_dir = night_env["data_root"] / "sample_isd" / NIGHT.isoformat()
    report = json.loads((run_dir / "qa_report.json").read_text())
    assert report["passed"] is False and report["rows_delivered"] == 0
    assert not (run_dir / REMOTE.name).exists()
    assert _asset_events(run) == []  # nothing delivered, no delivery event


def test_qa_mode_delivers_to_the_qa_folder(night_env: dict, include_copy: Path) -> None:
    district_file = include_copy / "districts" / "sample_isd.yaml"
    config = yaml.safe_load(district_file.read_text())
    config["mode"] = "qa"
    district_file.write_text(yaml.safe_dump(config))

    run = _dag(include_copy).test(logical_date=LOGICAL)

    assert str(run.state) == "success"
    files = sorted(
        p.relative_to(night_env["sftp_root"]).as_posix() for p in night_env["sftp_root"].rglob("*") if p.is_file()
    )
    assert files == ["upload/sample_isd/qa/sample_isd_roster_20261120.txt"]


def test_an_object_store_data_root_holds_the_run_and_the_snapshot(
    night_env: dict, object_store: ObjectStore, include_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ROSTER_DATA_ROOT as an object-store URL (fsspec memory://, and s3:// on a local S3 API): tasks
    pull and push the run folder through ObjectStoragePath, and the snapshot pointer is swapped there:
    the next night reads the last delivery back from the store and moves the pointer on."""
    monkeypatch.setenv("ROSTER_DATA_ROOT", object_store.root)
    fs = object_store.fs
    export = include_copy / "inbound" / "sample_isd" / "roster_20261120.csv"
    (export.parent / "roster_20261121.csv").write_bytes(export.read_bytes())

    run = _dag(include_copy).test(logical_date=LOGICAL)

    assert str(run.state) == "success"
    report = json.loads(fs.cat_file(object_store.path("sample_isd/2026-11-20/qa_report.json")))
    assert report["passed"] is True and report["remote_path"] == "/upload/sample_isd/sample_isd_roster_20261120.txt"
    pointer = json.loads(fs.cat_file(object_store.path("sample_isd/snapshot/snapshot.json")))
    assert pointer["date"] == "2026-11-20"
    assert fs.exists(object_store.path(f"sample_isd/snapshot/{pointer['file']}"))
    assert (night_env["sftp_root"] / REMOTE).exists()
    assert not night_env["data_root"].exists()

    second = _dag(include_copy).test(logical_date=LOGICAL + dt.timedelta(days=1))

    assert str(second.state) == "success"
    moved = json.loads(fs.cat_file(object_store.path("sample_isd/snapshot/snapshot.json")))
    assert moved["date"] == "2026-11-21" and fs.exists(object_store.path(f"sample_isd/snapshot/{moved['file']}"))
    # The same export again: had night 1's snapshot not been read back from the store, every student
    # would be added again.
    changes = json.loads(fs.cat_file(object_store.path("sample_isd/2026-11-21/qa_report.json")))["changes"]
    assert changes["first_night"] is False and changes["added"] == 0
    assert changes["previous_students"] == report["rows_delivered"]
    assert not night_env["data_root"].exists()
