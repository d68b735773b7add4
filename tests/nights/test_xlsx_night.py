"""A district whose SIS exports an Excel workbook runs a night like a flat-CSV district: the same
students as CSV and as a workbook (State IDs stored as numbers shown with leading zeros, dates of
birth as date cells, grades as numbers shown ``00``) give byte-identical roster files, through the
CLI and through a real night (``dag.test()``, real SFTP and SMTP servers)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from conftest import INCLUDE
from devtools.sample import BROKEN
from devtools.sample_xlsx import write_sample_workbook

NIGHT = dt.date(2026, 11, 20)
LOGICAL = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
EXPORT = INCLUDE / "inbound" / "sample_isd" / "roster_20261120.csv"
WORKBOOK = Path("inbound/sample_isd_xlsx/roster_20261120.xlsx")


@pytest.fixture
def with_workbook(include_copy: Path) -> Path:
    """include/ with the sample workbook generated where sample_isd_xlsx.yaml expects it."""
    write_sample_workbook(include_copy / WORKBOOK)
    return include_copy


@pytest.fixture
def as_csv(tmp_path: Path) -> Path:
    """include/ with sample_isd_xlsx reading the sample CSV instead: the same district, a flat export
    (the roster file names its district, so only the same district id can give the same bytes)."""
    import shutil

    target = tmp_path / "include_csv"
    shutil.copytree(INCLUDE, target)
    path = target / "districts" / "sample_isd_xlsx.yaml"
    data = yaml.safe_load(path.read_text())
    del data["source"]["format"], data["source"]["sheet"]
    data["source"]["path"] = "inbound/sample_isd/roster_{date:%Y%m%d}.csv"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def _run(include: Path, district: str, export: Path, out: Path) -> bytes:
    from roster.cli import main

    argv = ["run", "--include-dir", str(include), "--district", district, "--input", str(export)]
    assert main([*argv, "--out", str(out), "--date", NIGHT.isoformat()]) == 0
    (roster,) = out.glob("*_roster_20261120.txt")
    return roster.read_bytes()


def test_the_workbook_holds_typed_cells(with_workbook: Path) -> None:
    from openpyxl import load_workbook

    sheet = load_workbook(with_workbook / WORKBOOK, read_only=True)["Students"]
    first = next(sheet.iter_rows(min_row=2, max_row=2))
    by_header = dict(zip([c.value for c in next(sheet.iter_rows(max_row=1))], first, strict=True))
    assert isinstance(by_header["STATE_ID"].value, int) and by_header["STATE_ID"].number_format == "0000000000"
    assert isinstance(by_header["DOB"].value, dt.datetime) and by_header["DOB"].number_format == "yyyy-mm-dd"


def test_csv_and_workbook_give_the_same_roster_file(with_workbook: Path, as_csv: Path, tmp_path: Path) -> None:
    from_csv = _run(as_csv, "sample_isd_xlsx", EXPORT, tmp_path / "csv")
    from_xlsx = _run(with_workbook, "sample_isd_xlsx", with_workbook / WORKBOOK, tmp_path / "xlsx")
    assert from_xlsx == from_csv
    # devtools.sample's 300 students (the workbook's, and the CSV's: the OneRoster test checks that):
    # one row per BROKEN case and a pair sharing an id are rejected, each other student is one line.
    assert from_csv.count(b"\r\n") == 1 + 300 - (len(BROKEN) + 2)
    csv_report = json.loads((tmp_path / "csv" / "qa_report.json").read_text())
    xlsx_report = json.loads((tmp_path / "xlsx" / "qa_report.json").read_text())
    assert xlsx_report["rejects_by_reason"] == csv_report["rejects_by_reason"]
    assert (tmp_path / "xlsx" / "rejects.csv").read_bytes() == (tmp_path / "csv" / "rejects.csv").read_bytes()


def test_check_config_and_crossmatch_read_the_workbook(with_workbook: Path, tmp_path: Path, capsys) -> None:
    from roster.cli import main

    assert main(["check-config", "--include-dir", str(with_workbook)]) == 0
    assert "3 district file(s) valid" in capsys.readouterr().out
    common = ["crossmatch", "--include-dir", str(with_workbook)]
    csv_code = main([*common, "--district", "sample_isd", "--input", str(EXPORT), "--out", str(tmp_path / "c")])
    xlsx_code = main(
        [
            *common,
            "--district",
            "sample_isd_xlsx",
            "--input",
            str(with_workbook / WORKBOOK),
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert xlsx_code == csv_code
    report = "crossmatch_report.csv"
    assert (tmp_path / "x" / report).read_bytes() == (tmp_path / "c" / report).read_bytes()


def test_delimiter_or_encoding_written_with_xlsx_is_refused(with_workbook: Path, capsys) -> None:
    from roster.cli import main

    path = with_workbook / "districts" / "sample_isd_xlsx.yaml"
    data = yaml.safe_load(path.read_text())
    data["source"]["delimiter"] = ";"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["check-config", "--include-dir", str(with_workbook)]) == 2
    assert "delimiter does not apply to format: xlsx" in capsys.readouterr().err


def test_a_csv_sent_to_a_workbook_district_is_a_clear_verdict(with_workbook: Path, tmp_path: Path, capsys) -> None:
    from roster.cli import main

    argv = ["run", "--include-dir", str(with_workbook), "--district", "sample_isd_xlsx", "--input", str(EXPORT)]
    assert main([*argv, "--out", str(tmp_path / "o"), "--date", NIGHT.isoformat()]) == 2
    err = capsys.readouterr().err
    assert "not an Excel workbook: the file is text" in err and "Traceback" not in err


@pytest.mark.e2e
def test_a_workbook_night_delivers_the_csv_nights_roster(
    night_env: dict, with_workbook: Path, as_csv: Path, tmp_path: Path
) -> None:
    from roster.airflow.nightly import build_all

    run = build_all(root=with_workbook)["roster_sample_isd_xlsx"].test(logical_date=LOGICAL)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", states
    assert states["upload_roster"] == "success"

    delivered = (night_env["sftp_root"] / "upload/sample_isd_xlsx/sample_isd_xlsx_roster_20261120.txt").read_bytes()
    assert delivered == _run(as_csv, "sample_isd_xlsx", EXPORT, tmp_path / "csv")
    run_dir = night_env["data_root"] / "sample_isd_xlsx" / NIGHT.isoformat()
    report = json.loads((run_dir / "qa_report.json").read_text())
    assert report["passed"] is True and report["rows_delivered"] == 286 and report["rows_rejected"] == 14
    assert (run_dir / "export_roster_20261120.xlsx").read_bytes() == (with_workbook / WORKBOOK).read_bytes()
