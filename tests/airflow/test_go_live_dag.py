"""The ``roster_go_live`` DAG: loads from the DAG folder, and runs each step through ``dag.test()``
on Airflow's SQLite database, against real SFTP and SMTP servers."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from conftest import INCLUDE, REPO

pytestmark = pytest.mark.e2e

EXPORT = INCLUDE / "inbound" / "sample_isd" / "roster_20261120.csv"
VENDOR_HEADER = "State IDNumber,First Name,Last Name,Date of Birth,Enrollment Status\n"


def _dagbag(monkeypatch: pytest.MonkeyPatch, include: Path = INCLUDE, path: Path = REPO / "dags"):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("ROSTER_INCLUDE_DIR", str(include))
    return DagBag(dag_folder=str(path))


def _dag(monkeypatch: pytest.MonkeyPatch, include: Path = INCLUDE):
    bag = _dagbag(monkeypatch, include, REPO / "dags" / "roster_go_live.py")
    assert bag.import_errors == {}
    return bag.dags["roster_go_live"]


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _run_folder(data_root: Path) -> Path:
    folders = [p for p in (data_root / "sample_isd" / "go-live").iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


def _csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_loads_from_the_dag_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    bag = _dagbag(monkeypatch)
    assert bag.import_errors == {}
    dag = bag.dags["roster_go_live"]
    assert type(dag.timetable).__name__ == "NullTimetable"  # schedule=None: only triggered by hand
    assert dag.catchup is False
    assert dag.start_date.tzinfo is not None
    assert {"roster", "go-live"} <= set(dag.tags)
    assert "Taking a district live" in dag.doc_md
    assert [t.task_id for t in dag.tasks] == ["go_live_step"]
    params = dag.params.dump()
    assert params == {"district": "sample_isd", "step": "crossmatch", "sis_path": "", "vendor_path": "", "send": False}
    schema = {name: dag.params.get_param(name).schema for name in params}
    assert schema["district"]["enum"] == ["sample_isd", "sample_isd_oneroster", "sample_isd_xlsx"]
    assert schema["step"]["enum"] == ["crossmatch", "reconcile", "announce"]
    assert schema["send"]["type"] == "boolean"


def test_district_choices_are_the_district_files(monkeypatch: pytest.MonkeyPatch, include_copy: Path) -> None:
    (include_copy / "districts" / "second_isd.yaml").write_text(
        (include_copy / "districts" / "sample_isd.yaml")
        .read_text()
        .replace("district_id: sample_isd", "district_id: second_isd")
    )
    dag = _dag(monkeypatch, include_copy)
    assert dag.params.get_param("district").schema["enum"] == [
        "sample_isd",
        "sample_isd_oneroster",
        "sample_isd_xlsx",
        "second_isd",
    ]


def test_crossmatch_step(night_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _dag(monkeypatch).test(run_conf={"district": "sample_isd", "step": "crossmatch", "sis_path": str(EXPORT)})
    assert str(run.state) == "success", _states(run)
    folder = _run_folder(night_env["data_root"])
    assert sorted(p.name for p in folder.iterdir()) == [
        ".roster_written.json",  # the missing_* and subaccount files this step wrote (only those are ever removed)
        "crossmatch_report.csv",
        "missing_campuses.csv",
        "missing_diagnoses.csv",
        "missing_grades.csv",
        "subaccount_requests.csv",
    ]
    assert [r for r in _csv(folder / "crossmatch_report.csv")[1:] if not r[3]] == [
        ["grades", "13", "1", ""],
        ["campuses", "999", "1", ""],
        ["diagnoses", "XX", "1", ""],
    ]
    assert _csv(folder / "subaccount_requests.csv") == [
        ["district_code", "rows", "active_rows", "rethink_code", "description", "reason"],
        ["999", "1", "1", "", "", "unmapped"],
    ]


def test_reconcile_step_with_paths_relative_and_over_sftp(night_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # The vendor's export waits on the SFTP server; the SIS export is named relative to the include root.
    exports = night_env["sftp_root"] / "exports"
    exports.mkdir()
    (exports / "vendor.csv").write_text(
        VENDOR_HEADER + "0004000000,Someone,Else,09/06/2016,Active\n9999999999,Gone,Away,01/01/2012,Active\n",
        encoding="utf-8",
    )
    conf = {
        "district": "sample_isd",
        "step": "reconcile",
        "sis_path": "inbound/sample_isd/roster_20261120.csv",
        "vendor_path": "sftp://rethink_sftp/exports/vendor.csv",
    }
    run = _dag(monkeypatch).test(run_conf=conf)
    assert str(run.state) == "success", _states(run)
    folder = _run_folder(night_env["data_root"])
    assert [p.name for p in folder.iterdir()] == ["reconcile_report.csv"]  # the fetched copy is not kept
    report = _csv(folder / "reconcile_report.csv")
    assert report[0] == ["issue", "state_test_number", "detail"]
    found = {(r[0], r[1]) for r in report[1:]}
    assert ("identity_mismatch", "0004000000") in found
    assert ("inactivate_at_vendor", "9999999999") in found
    # Every active SIS student is to be added except the one the vendor has, the row without an id
    # (not compared) and the id the SIS repeats (a duplicate finding instead): counted from the export.
    with (INCLUDE / conf["sis_path"]).open(encoding="utf-8-sig", newline="") as handle:
        sis = list(csv.DictReader(handle))
    times = Counter(r["STATE_ID"].strip() for r in sis)
    active = {r["STATE_ID"].strip() for r in sis if r["STATUS"].strip() == "A"}
    to_add = active - {"", "0004000000"} - {stn for stn, n in times.items() if n > 1}
    assert {r[1] for r in report[1:] if r[0] == "add_at_vendor"} == to_add and len(to_add) == 277
    # The outcome is recorded as the district's last reconcile, the evidence roster go-live reads.
    record = json.loads((night_env["data_root"] / "sample_isd" / "go-live" / "reconcile.json").read_text())
    assert record["exit_code"] == 1 and record["counts"]["identity_mismatch"] == 1
    assert record["counts"]["add_at_vendor"] == sum(1 for r in report[1:] if r[0] == "add_at_vendor")


def test_announce_step_sends_through_smtp(night_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _dag(monkeypatch).test(run_conf={"district": "sample_isd", "step": "announce", "send": True})
    assert str(run.state) == "success", _states(run)
    folder = _run_folder(night_env["data_root"])
    assert sorted(p.name for p in folder.iterdir()) == ["announce_administrators.eml", "announce_teachers.eml"]
    received = sorted(m["To"] for m in night_env["smtp"].messages())
    assert received == ["principals@sample.k12.example", "teachers@sample.k12.example"]


def test_announce_without_send_sends_nothing(night_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _dag(monkeypatch).test(run_conf={"district": "sample_isd", "step": "announce"})
    assert str(run.state) == "success", _states(run)
    assert len(list(_run_folder(night_env["data_root"]).glob("*.eml"))) == 2
    assert night_env["smtp"].messages() == []


def test_a_missing_input_fails_the_run_with_one_line(night_env: dict, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    run = _dag(monkeypatch).test(run_conf={"district": "sample_isd", "step": "reconcile", "sis_path": str(EXPORT)})
    assert str(run.state) == "failed"
    assert _states(run) == {"go_live_step": "failed"}
    assert "param 'vendor_path' is empty" in caplog.text
