"""``roster crossmatch`` and ``roster reconcile`` read an Excel workbook and a OneRoster package as they
read the flat CSV: the sample district's twins (``sample_isd_xlsx``, ``sample_isd_oneroster``), given
the same students in their format, give the CSV district's exit code and reports, byte for byte."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from devtools.oneroster import sample_students, write_oneroster
from devtools.sample_xlsx import write_sample_workbook
from domain_fixtures import SAMPLE_EXPORT, csv_text
from roster.cli import main

VENDOR_HEADER = ["State IDNumber", "First Name", "Middle Name", "Last Name", "Date of Birth", "Enrollment Status"]
TWINS = {
    "sample_isd_xlsx": Path("inbound/sample_isd_xlsx/roster_20261120.xlsx"),
    "sample_isd_oneroster": Path("inbound/sample_isd_oneroster/oneroster_20261120.zip"),
}


@pytest.fixture
def with_exports(include_copy: Path) -> Path:
    """include/ with the sample students as a workbook and as a package, where the twins expect them."""
    write_sample_workbook(include_copy / TWINS["sample_isd_xlsx"])
    write_oneroster(include_copy / TWINS["sample_isd_oneroster"], sample_students())
    return include_copy


def _vendor_file(path: Path) -> Path:
    """The vendor's export of the sample students, out of step with the SIS in each way reconcile finds."""
    with SAMPLE_EXPORT.open(encoding="utf-8", newline="") as handle:
        students = list(csv.DictReader(handle))
    rows = []
    for n, s in enumerate(students):
        if n == 5:
            continue  # add_at_vendor
        first = "Changed" if n == 10 else s["FIRST_NAME"]  # identity_mismatch
        state_id = "" if n == 20 else s["STATE_ID"]  # missing_state_id
        status = "Active" if n == 30 or s["STATUS"] == "A" else "Inactive"
        values = (state_id, first, s["MIDDLE_NAME"], s["LAST_NAME"], s["DOB"], status)
        rows.append(dict(zip(VENDOR_HEADER, values, strict=True)))
    rows.append(dict(zip(VENDOR_HEADER, ("9999999", "Ex", "", "Student", "01/01/2012", "Active"), strict=True)))
    path.write_text(csv_text(rows, header=VENDOR_HEADER), encoding="utf-8")
    return path


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.mark.parametrize("district", list(TWINS))
def test_reconcile_reads_the_twin_export_as_the_csv(
    with_exports: Path, tmp_path: Path, district: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(tmp_path / "data"))  # reconcile records its run there
    vendor = _vendor_file(tmp_path / "vendor.csv")

    def reconcile(district_id: str, sis: Path, out: Path) -> int:
        argv = ["reconcile", "--include-dir", str(with_exports), "--district", district_id]
        return main([*argv, "--sis", str(sis), "--vendor", str(vendor), "--out", str(out)])

    flat_code = reconcile("sample_isd", SAMPLE_EXPORT, tmp_path / "csv")
    flat_said = capsys.readouterr()
    twin_code = reconcile(district, with_exports / TWINS[district], tmp_path / "twin")
    twin_said = capsys.readouterr()
    assert twin_code == flat_code == 1, (flat_said, twin_said)
    # The summary line is the CSV's; the lines after it name the district's and the run's folders.
    summary = flat_said.out.splitlines()[0].replace("reconcile sample_isd:", f"reconcile {district}:")
    assert twin_said.out.splitlines()[0] == summary
    assert "9 findings" in twin_said.out and "Traceback" not in twin_said.err
    report = _outputs(tmp_path / "twin")["reconcile_report.csv"].decode("utf-8")
    assert report == _outputs(tmp_path / "csv")["reconcile_report.csv"].decode("utf-8")
    issues = {line.split(",")[0] for line in report.splitlines()[1:]}
    assert {"add_at_vendor", "identity_mismatch", "missing_state_id", "inactivate_at_vendor"} <= issues


@pytest.mark.parametrize("district", list(TWINS))
def test_crossmatch_reads_the_twin_export_as_the_csv(
    with_exports: Path, tmp_path: Path, district: str, capsys: pytest.CaptureFixture
) -> None:
    def crossmatch(district_id: str, export: Path, out: Path) -> int:
        argv = ["crossmatch", "--include-dir", str(with_exports), "--district", district_id]
        return main([*argv, "--input", str(export), "--out", str(out)])

    flat_code = crossmatch("sample_isd", SAMPLE_EXPORT, tmp_path / "csv")
    flat_said = capsys.readouterr()
    twin_code = crossmatch(district, with_exports / TWINS[district], tmp_path / "twin")
    twin_said = capsys.readouterr()
    assert twin_code == flat_code == 1, (flat_said, twin_said)
    assert _outputs(tmp_path / "twin") == _outputs(tmp_path / "csv")
    missing = _outputs(tmp_path / "csv")["crossmatch_report.csv"].decode("utf-8")
    assert "13" in missing and "999" in missing and "XX" in missing
