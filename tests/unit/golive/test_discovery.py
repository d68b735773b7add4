"""``roster crossmatch``: every code of an export with its count and Rethink Ed code; what is missing."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest

from domain_fixtures import (
    HEADER,
    INCLUDE,
    ROSTER_BIN,
    SAMPLE_EXPORT,
    copy_include,
    del_key,
    district_data,
    row,
    write_district,
    write_export,
)
from roster.cli import main


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def _crossmatch(export: Path, out: Path, *extra: str) -> int:
    return main(["crossmatch", "--district", "sample_isd", "--input", str(export), "--out", str(out), *extra])


def _rows() -> list[dict[str, str]]:
    rows = []
    rows += [row(STATE_ID=f"10{i:02d}", GRADE="05", CAMPUS="102", DIAGNOSIS="") for i in range(3)]
    rows += [row(STATE_ID=f"20{i:02d}", GRADE="13", CAMPUS="998", DIAGNOSIS="AU") for i in range(2)]
    rows += [row(STATE_ID="3000", GRADE=" 14 ", CAMPUS="998", DIAGNOSIS="ZZ")]  # padded: the code is 14
    rows += [row(STATE_ID="3001", GRADE="", CAMPUS="102", DIAGNOSIS="  ")]  # empty values are not codes
    rows += [row(STATE_ID="3002", GRADE="kg", CAMPUS="102", DIAGNOSIS="au")]  # case matters, as at night
    return rows


def test_report_lists_every_code_with_counts_and_rethink_codes(tmp_path, capsys):
    export = write_export(tmp_path, _rows())
    out = tmp_path / "out"

    assert _crossmatch(export, out) == 1

    report = _read(out / "crossmatch_report.csv")
    assert report[0] == ["table", "district_code", "rows", "rethink_code"]
    assert sorted(map(tuple, report[1:])) == sorted(
        [
            ("grades", "05", "3", "5"),
            ("grades", "13", "2", ""),
            ("grades", "14", "1", ""),
            ("grades", "kg", "1", ""),
            ("campuses", "102", "5", "SISD-EL-102"),
            ("campuses", "998", "3", ""),
            ("diagnoses", "AU", "2", "AUT"),
            ("diagnoses", "ZZ", "1", ""),
            ("diagnoses", "au", "1", ""),
        ]
    )
    # Tables in a fixed order: grades, campuses, diagnoses.
    assert [r[0] for r in report[1:]] == ["grades"] * 4 + ["campuses"] * 2 + ["diagnoses"] * 3

    assert _read(out / "missing_grades.csv") == [
        ["district_code", "rethink_code", "description"],
        ["13", "", ""],
        ["14", "", ""],
        ["kg", "", ""],
    ]
    assert _read(out / "missing_campuses.csv") == [["district_code", "rethink_code", "description"], ["998", "", ""]]
    assert _read(out / "missing_diagnoses.csv") == [
        ["district_code", "rethink_code", "description"],
        ["ZZ", "", ""],
        ["au", "", ""],
    ]

    printed = capsys.readouterr().out
    assert "8 rows read" in printed and "grades: 4 codes, 3 unmapped (4 rows), 1 row empty" in printed
    assert "diagnoses: 3 codes, 2 unmapped (2 rows), 4 rows empty" in printed
    assert str(out / "missing_grades.csv") in printed


def test_missing_file_is_ready_to_fill_and_most_frequent_first(tmp_path):
    rows = [row(STATE_ID=f"1{i:03d}", GRADE="13") for i in range(1)] + [
        row(STATE_ID=f"2{i:03d}", GRADE="14") for i in range(4)
    ]
    out = tmp_path / "out"
    assert _crossmatch(write_export(tmp_path, rows), out) == 1
    assert [r[0] for r in _read(out / "missing_grades.csv")[1:]] == ["14", "13"]

    # Filling the file in and appending it to the table maps the codes: the next run is clean.
    include = copy_include(tmp_path)
    table = include / "crossmatch" / "sample_isd" / "grades.csv"
    filled = [["14", "14", "Grade 14"], ["13", "13", "Grade 13"]]
    with table.open("a", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(filled)
    assert _crossmatch(write_export(tmp_path, rows), out, "--include-dir", str(include)) == 0
    assert not (out / "missing_grades.csv").exists()  # the stale list from the first run is gone
    assert sorted(map(tuple, _read(out / "crossmatch_report.csv")[1:]))[-2:] == [
        ("grades", "13", "1", "13"),
        ("grades", "14", "4", "14"),
    ]


def test_all_mapped_exits_0_and_writes_no_missing_files(tmp_path, capsys):
    export = write_export(tmp_path, [row(), row(STATE_ID="0001235", GRADE="KG", CAMPUS="301", DIAGNOSIS="LD")])
    out = tmp_path / "out"
    assert _crossmatch(export, out) == 0
    # subaccount_requests.csv is always written (header only here), so the folder is predictable.
    assert sorted(p.name for p in out.iterdir()) == [
        ".roster_written.json",
        "crossmatch_report.csv",
        "subaccount_requests.csv",
    ]
    assert len(_read(out / "crossmatch_report.csv")) == 1 + 5  # 05, KG; 102, 301; LD
    assert _read(out / "subaccount_requests.csv") == [
        ["district_code", "rows", "active_rows", "rethink_code", "description", "reason"]
    ]
    assert "all codes mapped" in capsys.readouterr().out


def test_district_without_diagnosis_lists_no_diagnoses(tmp_path):
    include = copy_include(tmp_path)
    write_district(include, del_key(district_data(), "source.columns.diagnosis"))
    header = [h for h in HEADER if h != "DIAGNOSIS"]
    export = write_export(tmp_path, [row(GRADE="13")], header=header)
    out = tmp_path / "out"
    assert _crossmatch(export, out, "--include-dir", str(include)) == 1
    assert {r[0] for r in _read(out / "crossmatch_report.csv")[1:]} == {"grades", "campuses"}
    assert not (out / "missing_diagnoses.csv").exists()


def test_a_new_district_without_tables_starts_them(tmp_path, capsys):
    include = copy_include(tmp_path)
    for table in ("grades", "campuses", "diagnoses"):
        (include / "crossmatch" / "sample_isd" / f"{table}.csv").unlink()
    out = tmp_path / "out"
    assert _crossmatch(write_export(tmp_path, [row(DIAGNOSIS="AU")]), out, "--include-dir", str(include)) == 1
    assert [r[3] for r in _read(out / "crossmatch_report.csv")[1:]] == ["", "", ""]
    assert _read(out / "missing_campuses.csv")[1:] == [["102", "", ""]]
    assert "grades.csv does not exist yet" in capsys.readouterr().out


def test_ragged_rows_are_not_counted_and_are_named_by_row(tmp_path, capsys):
    lines = [",".join(HEADER), ",".join(row(GRADE="13")[h] for h in HEADER), "0009,short,row"]
    export = write_export(tmp_path, text="\n".join(lines) + "\n")
    assert _crossmatch(export, tmp_path / "out") == 1
    assert ("grades", "13", "1", "") in map(tuple, _read(tmp_path / "out" / "crossmatch_report.csv"))
    assert "rows not counted (wrong number of columns): 3" in capsys.readouterr().out


def test_large_export_counts(tmp_path):
    """Counting is columnar: 60,000 rows, exact counts."""
    body = "".join(f"{i:07d},L,A,,B,03/14/2015,F,{('05', '13', 'KG')[i % 3]},102,,A,," + "\n" for i in range(60_000))
    export = write_export(tmp_path, text=",".join(HEADER) + "\n" + body)
    out = tmp_path / "out"
    assert _crossmatch(export, out) == 1
    grades = {r[1]: r[2] for r in _read(out / "crossmatch_report.csv")[1:] if r[0] == "grades"}
    assert grades == {"05": "20000", "13": "20000", "KG": "20000"}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_input", "export not found"),
        ("unknown_district", "no such district file"),
        ("broken_table", "line 3: district_code '05' is listed twice"),
        ("missing_column", "required column 'GRADE' (grade) is missing from the header"),
        ("out_is_a_file", "out: the output folder is a file, not a folder"),
    ],
)
def test_errors_exit_2_with_one_line(tmp_path, capsys, case, expected):
    include = copy_include(tmp_path)
    export = write_export(tmp_path, [row()])
    args = [
        "crossmatch",
        "--district",
        "sample_isd",
        "--input",
        str(export),
        "--out",
        str(tmp_path / "out"),
        "--include-dir",
        str(include),
    ]
    if case == "missing_input":
        args[4] = str(tmp_path / "nope.csv")
    elif case == "unknown_district":
        args[2] = "nope_isd"
    elif case == "broken_table":
        table = include / "crossmatch" / "sample_isd" / "grades.csv"
        table.write_text("district_code,rethink_code\n05,5\n05,5\n", encoding="utf-8")
    elif case == "missing_column":
        write_export(tmp_path, [row()], header=[h for h in HEADER if h != "GRADE"])
    elif case == "out_is_a_file":
        (tmp_path / "out").write_text("not a folder")
    assert main(args) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert expected in line


def test_roster_command_on_the_sample_export(tmp_path):
    """The installed command: the sample export's three unknown codes, one row each."""
    out = tmp_path / "out"
    result = subprocess.run(
        [
            str(ROSTER_BIN),
            "crossmatch",
            "--district",
            "sample_isd",
            "--input",
            str(SAMPLE_EXPORT),
            "--out",
            str(out),
            "--include-dir",
            str(INCLUDE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    report = _read(out / "crossmatch_report.csv")
    assert [r for r in report[1:] if not r[3]] == [
        ["grades", "13", "1", ""],
        ["campuses", "999", "1", ""],
        ["diagnoses", "XX", "1", ""],
    ]
    assert sum(int(r[2]) for r in report[1:] if r[0] == "campuses") == 300


# subaccount_requests.csv -------------------------------------------------------------------------

SUBACCOUNT_HEADER = ["district_code", "rows", "active_rows", "rethink_code", "description", "reason"]


def _with_campus_list(tmp_path: Path, codes: list[str]) -> Path:
    import yaml

    include = copy_include(tmp_path)
    (include / "vendor_codes").mkdir()
    (include / "vendor_codes" / "campuses.csv").write_text("rethink_code\n" + "".join(c + "\n" for c in codes))
    layout_file = include / "layouts" / "rethink_ed.yaml"
    layout = yaml.safe_load(layout_file.read_text(encoding="utf-8"))
    layout["vendor_codes"] = {"campus": "vendor_codes/campuses.csv"}
    layout_file.write_text(yaml.safe_dump(layout), encoding="utf-8")
    return include


def test_subaccount_requests_list_campuses_unmapped_or_not_at_the_vendor(tmp_path, capsys):
    # The vendor has 101 and 102's sub-accounts; 201 and 301 are mapped but not at the vendor yet.
    include = _with_campus_list(tmp_path, ["SISD-EL-101", "SISD-EL-102"])
    rows = [row(STATE_ID=f"1{i:03d}", CAMPUS="201") for i in range(3)]
    rows += [row(STATE_ID="2000", CAMPUS="201", STATUS="I")]
    rows += [row(STATE_ID=f"3{i:03d}", CAMPUS="998", STATUS="I") for i in range(2)]
    rows += [row(STATE_ID="4000", CAMPUS="301"), row(STATE_ID="5000", CAMPUS="102"), row(STATE_ID="6000", CAMPUS="")]
    out = tmp_path / "out"

    # Exit 1 as before: 998 is unmapped (not_at_vendor alone would not change the exit code).
    assert _crossmatch(write_export(tmp_path, rows), out, "--include-dir", str(include)) == 1

    assert _read(out / "subaccount_requests.csv") == [
        SUBACCOUNT_HEADER,
        ["201", "4", "3", "SISD-MS-201", "Jefferson Middle School", "not_at_vendor"],
        ["301", "1", "1", "SISD-HS-301", "Washington High School", "not_at_vendor"],
        ["998", "2", "0", "", "", "unmapped"],
    ]
    printed = capsys.readouterr().out
    assert "sub-account requests: 3 campuses" in printed
    assert f"3 campuses need a sub-account at the vendor: see {out / 'subaccount_requests.csv'}" in printed
    # Recorded in the folder's manifest like the missing_* files.
    assert "subaccount_requests.csv" in (out / ".roster_written.json").read_text(encoding="utf-8")


def test_without_a_vendor_list_only_unmapped_campuses_are_requested(tmp_path):
    rows = [row(STATE_ID="1000", CAMPUS="201"), row(STATE_ID="2000", CAMPUS="=HYPERLINK(1)")]
    out = tmp_path / "out"
    assert _crossmatch(write_export(tmp_path, rows), out) == 1
    # The same neutralizing writer as crossmatch_report.csv: a formula is text with a leading '.
    assert _read(out / "subaccount_requests.csv") == [
        SUBACCOUNT_HEADER,
        ["'=HYPERLINK(1)", "1", "1", "", "", "unmapped"],
    ]


def test_date_like_codes_are_masked_in_every_report(tmp_path, capsys):
    # Swapped columns: dates of birth in the campus column are not echoed, only counted.
    rows = [row(STATE_ID="1000", CAMPUS="03/14/2015"), row(STATE_ID="1001", CAMPUS="2015-03-15", STATUS="I")]
    rows += [row(STATE_ID="1002", CAMPUS="14 Mar 2015"), row(STATE_ID="1003", CAMPUS="102")]
    out = tmp_path / "out"
    assert _crossmatch(write_export(tmp_path, rows), out) == 1

    campuses = [r for r in _read(out / "crossmatch_report.csv")[1:] if r[0] == "campuses"]
    assert campuses == [["campuses", "102", "1", "SISD-EL-102"], ["campuses", "[masked]", "3", ""]]
    assert _read(out / "subaccount_requests.csv") == [SUBACCOUNT_HEADER, ["[masked]", "3", "2", "", "", "unmapped"]]
    assert not (out / "missing_campuses.csv").exists()  # nothing there could be mapped
    every_file = "".join(p.read_text(encoding="utf-8") for p in out.iterdir())
    assert "2015" not in every_file and "2015" not in capsys.readouterr().out
