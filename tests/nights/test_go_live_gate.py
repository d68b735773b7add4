"""``roster go-live`` after real QA nights: three nights of ``roster_sample_isd`` in ``mode: qa`` through
``dag.test()`` against the real SFTP server, and a clean reconcile, let the district go live."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest

from conftest import INCLUDE

pytestmark = pytest.mark.e2e

NIGHTS = [dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2026, 11, 20)]
EXPORT = INCLUDE / "inbound" / "sample_isd" / "roster_20261120.csv"
VENDOR_HEADER = ["State IDNumber", "First Name", "Middle Name", "Last Name", "Date of Birth", "Enrollment Status"]


def _clean_pair(tmp_path: Path) -> tuple[Path, Path]:
    """Two inactive students of the sample export, and the vendor export that matches them."""
    with EXPORT.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, [r for r in reader if r["STATUS"] == "I"][:2]
    sis, vendor = tmp_path / "sis.csv", tmp_path / "vendor.csv"
    with sis.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    with vendor.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(VENDOR_HEADER)
        out.writerows(
            [r["STATE_ID"], r["FIRST_NAME"], r["MIDDLE_NAME"], r["LAST_NAME"], r["DOB"], "Inactive"] for r in rows
        )
    return sis, vendor


def test_three_qa_nights_and_a_clean_reconcile_let_the_district_go_live(
    night_env: dict, include_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from roster.airflow.nightly import build_all
    from roster.cli import main

    district_file = include_copy / "districts" / "sample_isd.yaml"
    district_file.write_text(district_file.read_text().replace("\nmode: live\n", "\nmode: qa\n"))
    for night in NIGHTS:
        shutil.copy(EXPORT, include_copy / "inbound" / "sample_isd" / f"roster_{night:%Y%m%d}.csv")
    go_live = ["go-live", "--district", "sample_isd", "--include-dir", str(include_copy)]

    dag = build_all(root=include_copy)["roster_sample_isd"]
    for night in NIGHTS[:2]:
        assert str(dag.test(logical_date=dt.datetime.combine(night, dt.time(8), tzinfo=dt.UTC)).state) == "success"
    sis, vendor = _clean_pair(tmp_path)
    reconcile = ["reconcile", "--district", "sample_isd", "--sis", str(sis), "--vendor", str(vendor)]
    assert main([*reconcile, "--out", str(tmp_path / "out"), "--include-dir", str(include_copy)]) == 0
    capsys.readouterr()
    assert main(go_live) == 1
    assert "  2 of 3 required QA nights passed (2026-11-18, 2026-11-19)" in capsys.readouterr().out
    assert "\nmode: qa\n" in district_file.read_text()

    assert str(dag.test(logical_date=dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)).state) == "success"
    qa_folder = night_env["sftp_root"] / "upload" / "sample_isd" / "qa"
    assert sorted(p.name for p in qa_folder.iterdir()) == [f"sample_isd_roster_{n:%Y%m%d}.txt" for n in NIGHTS]
    capsys.readouterr()
    assert main(go_live) == 0
    assert capsys.readouterr().out.startswith("go-live sample_isd: switched to mode: live\n")
    assert "\nmode: live\n" in district_file.read_text()
