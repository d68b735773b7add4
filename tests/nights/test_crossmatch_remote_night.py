"""A night whose cross-match tables live on the district's SFTP server (``crossmatch: sftp://...``):
``extract_export`` copies them into the run folder, every later task reads that copy, and
``qa_report.json`` records the SHA-256 of each table used. A remote table that is missing or fails to
parse fails the night at once (the on-call email names the table's URL and line) and delivers nothing.
Airflow's ``dag.test()`` against the real loopback SFTP and SMTP servers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from conftest import INCLUDE, configure_district

pytestmark = pytest.mark.e2e

NIGHT = dt.date(2026, 11, 20)
LOGICAL = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)  # 02:00 America/Chicago
TABLES = INCLUDE / "crossmatch" / "sample_isd"
REMOTE_TABLES = "drop/sample_isd/crossmatch"
URL = f"sftp://rethink_sftp/{REMOTE_TABLES}"
#: Grade 13 of row 149 is rejected by the include's table (unknown_grade); the remote table maps it.
REMOTE_ONLY_ROW = b"13,12,only in the district's remote table\n"


def _dag(root: Path):
    from roster.airflow.nightly import build_all

    return build_all(root=root)["roster_sample_isd"]


def _stage(sftp_root: Path) -> dict[str, bytes]:
    folder = sftp_root / REMOTE_TABLES
    folder.mkdir(parents=True)
    tables = {t: (TABLES / f"{t}.csv").read_bytes() for t in ("grades", "campuses", "diagnoses")}
    tables["grades"] += REMOTE_ONLY_ROW
    for table, data in tables.items():
        (folder / f"{table}.csv").write_bytes(data)
    return tables


def test_a_night_reads_the_tables_on_the_districts_sftp_server(night_env: dict, include_copy: Path) -> None:
    tables = _stage(night_env["sftp_root"])
    configure_district(include_copy, crossmatch=URL)

    run = _dag(include_copy).test(logical_date=LOGICAL)

    assert str(run.state) == "success", {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    run_dir = night_env["data_root"] / "sample_isd" / NIGHT.isoformat()
    report = json.loads((run_dir / "qa_report.json").read_text())
    # The row with grade 13 went out: only the remote table maps it (the include's rejects it).
    assert "unknown_grade" not in report["rejects_by_reason"]
    assert report["rows_rejected"] == 13 and report["rows_delivered"] == 287
    delivered = (night_env["sftp_root"] / "upload/sample_isd/sample_isd_roster_20261120.txt").read_text()
    assert any(line.startswith("0004001029|") and "|12|" in line for line in delivered.splitlines())
    assert report["crossmatch"] == {
        table: {"sha256": hashlib.sha256(data).hexdigest(), "source": f"{URL}/{table}.csv"}
        for table, data in tables.items()
    }
    assert (run_dir / "crossmatch_grades.csv").read_bytes() == tables["grades"]


def test_a_missing_remote_table_fails_the_night_at_once(night_env: dict, include_copy: Path) -> None:
    _stage(night_env["sftp_root"])
    (night_env["sftp_root"] / REMOTE_TABLES / "campuses.csv").unlink()
    configure_district(include_copy, crossmatch=URL)

    run = _dag(include_copy).test(logical_date=LOGICAL)

    assert str(run.state) == "failed"
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert str(tis["extract_export"].state) == "failed" and tis["extract_export"].try_number == 1
    assert not (night_env["sftp_root"] / "upload").exists()


def test_a_remote_table_that_fails_to_parse_fails_the_night_naming_it(night_env: dict, include_copy: Path) -> None:
    tables = _stage(night_env["sftp_root"])
    # The district's editor typed a description with a comma and no quotes: four fields, not three.
    bad_line = tables["grades"].count(b"\n") + 1
    (night_env["sftp_root"] / REMOTE_TABLES / "grades.csv").write_bytes(
        tables["grades"] + b"14,12,Grade 14, transitional\n"
    )
    configure_district(include_copy, crossmatch=URL)

    run = _dag(include_copy).test(logical_date=LOGICAL)

    assert str(run.state) == "failed"
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert str(tis["extract_export"].state) == "success"  # the copy is made; reading it fails
    assert str(tis["build_roster"].state) == "failed" and tis["build_roster"].try_number == 1  # no retry
    assert str(tis["upload_roster"].state) == "upstream_failed"
    assert not (night_env["sftp_root"] / "upload").exists()  # nothing delivered
    assert not (night_env["data_root"] / "sample_isd" / "snapshot" / "snapshot.json").exists()
    run_dir = night_env["data_root"] / "sample_isd" / NIGHT.isoformat()
    assert not list(run_dir.glob("*_roster_*.txt"))
    [email] = [m for m in night_env["smtp"].messages() if m["To"] == "data-oncall@example.org"]
    assert email["Subject"] == "[roster FAILED] sample_isd 2026-11-20: build_roster"
    body = email.get_body(("plain",)).get_content()
    assert f"{URL}/grades.csv: line {bad_line}: expected 3 fields, found 4" in body
    assert [m for m in night_env["smtp"].messages() if m["To"] != "data-oncall@example.org"] == []


def test_roster_run_fetches_sftp_tables_through_the_airflow_connection(
    night_env: dict, include_copy: Path, tmp_path: Path
) -> None:
    from roster.cli import main

    tables = _stage(night_env["sftp_root"])
    configure_district(include_copy, crossmatch=URL)
    export = INCLUDE / "inbound" / "sample_isd" / "roster_20261120.csv"
    out = tmp_path / "out"
    args = ["run", "--district", "sample_isd", "--input", str(export), "--out", str(out), "--date", "2026-11-20"]

    assert main([*args, "--include-dir", str(include_copy)]) == 0

    report = json.loads((out / "qa_report.json").read_text())
    assert "unknown_grade" not in report["rejects_by_reason"] and report["rows_delivered"] == 287
    assert report["crossmatch"]["grades"]["sha256"] == hashlib.sha256(tables["grades"]).hexdigest()
    assert main(["check-config", "--include-dir", str(include_copy)]) == 0
