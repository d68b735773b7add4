"""``roster reconcile``: the SIS export against the vendor's roster export, on hand-made pairs of files."""

from __future__ import annotations

import csv
import re
import subprocess
import unicodedata
from pathlib import Path

import pytest

from domain_fixtures import (
    HEADER,
    ROSTER_BIN,
    copy_include,
    csv_text,
    district_data,
    row,
    set_key,
    write_district,
    write_export,
)
from roster.cli import main
from roster.golive.reconcile import match_key

VENDOR_HEADER = ["State IDNumber", "First Name", "Last Name", "Date of Birth", "Enrollment Status"]
REPORT_HEADER = ["issue", "state_test_number", "detail"]


def sis(stn: str, first: str, last: str, dob: str, status: str = "A") -> dict[str, str]:
    return row(STATE_ID=stn, LOCAL_ID="", FIRST_NAME=first, LAST_NAME=last, DOB=dob, STATUS=status)


def vendor(stn: str, first: str, last: str, dob: str, status: str = "Active") -> dict[str, str]:
    return dict(zip(VENDOR_HEADER, (stn, first, last, dob, status), strict=True))


def _files(tmp_path: Path, sis_rows, vendor_rows, *, vendor_delimiter: str = ",") -> tuple[Path, Path]:
    sis_path = write_export(tmp_path, sis_rows, name="sis.csv")
    vendor_path = write_export(
        tmp_path, name="vendor.csv", text=csv_text(vendor_rows, header=VENDOR_HEADER, delimiter=vendor_delimiter)
    )
    return sis_path, vendor_path


def _reconcile(sis_path: Path, vendor_path: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "reconcile",
            "--district",
            "sample_isd",
            "--sis",
            str(sis_path),
            "--vendor",
            str(vendor_path),
            "--out",
            str(out),
            *extra,
        ]
    )


def _report(out: Path) -> list[tuple[str, str, str]]:
    with (out / "reconcile_report.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == REPORT_HEADER
    return [tuple(r) for r in rows[1:]]


# Every kind of finding, in one pair of files --------------------------------------------------

SIS_ROWS = [
    sis("1001", "Maria", "Gonzalez", "03/14/2015"),  # row 2: same as the vendor, whose copy is padded
    sis("1002", "José", "García", "01/02/2014"),  # row 3: the vendor lost the accent
    sis("1003", "Ana", "Lopez", "05/06/2013"),  # row 4: the vendor has other case and another DOB
    sis("1004", "Li", "Wu", "07/08/2012", "I"),  # row 5: left the district; still active at the vendor
    sis("1005", "Sam", "Reed", "09/10/2011"),  # row 6: the vendor lacks the student
    sis("1006", "Zoë", "Brontë", "11/12/2010"),  # row 7: at the vendor without an id
    sis("1007", "Kim", "Park", "02/03/2012"),  # row 8: the SIS has the id twice ...
    sis("1007", "Kim", "Park", "02/03/2012"),  # row 9
    sis("1008", "Olga", "Gone", "01/01/2010", "I"),  # row 10: inactive and not at the vendor: fine
]
VENDOR_ROWS = [
    vendor("1001", "  Maria ", "Gonzalez  ", "03/14/2015"),  # row 2
    vendor("1002", "Jose", "García", "01/02/2014"),  # row 3
    vendor("1003", "ana", "LOPEZ", "05/07/2013"),  # row 4
    vendor("1004", "Li", "Wu", "07/08/2012"),  # row 5
    vendor("", " ZOE", "bronte ", "11/12/2010"),  # row 6
    vendor("1009", "Ex", "Student", "04/04/2012"),  # row 7: not in the SIS at all
    vendor("1010", "Dee", "Twice", "06/06/2012"),  # row 8: the vendor has the id twice ...
    vendor("1010", "Dee", "Twice", "06/06/2012"),  # row 9
    vendor("1011", "Was", "Here", "08/08/2011", "Inactive"),  # row 10: inactive and not in the SIS: fine
    vendor("1007", "Kim", "Park", "02/03/2012"),  # row 11: unique here, but twice in the SIS
]
EXPECTED = [
    ("identity_mismatch", "1002", "differs: legal_first_name; SIS row 3, vendor row 3"),
    ("identity_mismatch", "1003", "differs: legal_first_name, legal_last_name, date_of_birth; SIS row 4, vendor row 4"),
    ("missing_state_id", "", "vendor row 6; SIS candidates: 1006"),
    ("inactivate_at_vendor", "1004", "inactive in the SIS (SIS row 5); vendor row 5"),
    ("inactivate_at_vendor", "1009", "not in the SIS export; vendor row 7"),
    ("add_at_vendor", "1005", "not at the vendor; SIS row 6"),
    ("add_at_vendor", "1006", "not at the vendor; SIS row 7 (may be vendor row 6 without a State Test Number)"),
    ("duplicate", "1007", "2 times in the SIS export (rows 8, 9)"),
    ("duplicate", "1010", "2 times in the vendor export (rows 8, 9)"),
]


def test_every_kind_of_finding(tmp_path, capsys):
    out = tmp_path / "out"
    assert _reconcile(*_files(tmp_path, SIS_ROWS, VENDOR_ROWS), out) == 1
    assert _report(out) == EXPECTED
    printed = capsys.readouterr().out
    assert "9 SIS rows, 10 vendor rows; 9 findings" in printed
    assert (
        "identity_mismatch: 2, missing_state_id: 1, inactivate_at_vendor: 2, add_at_vendor: 2, duplicate: 2" in printed
    )


def test_no_names_or_birth_dates_leave_the_comparison(tmp_path, capsys):
    out = tmp_path / "out"
    _reconcile(*_files(tmp_path, SIS_ROWS, VENDOR_ROWS), out)
    captured = capsys.readouterr()
    private = {r[k] for r in SIS_ROWS for k in ("FIRST_NAME", "LAST_NAME", "DOB")}
    private |= {r[k].strip() for r in VENDOR_ROWS for k in ("First Name", "Last Name", "Date of Birth")}
    written = (out / "reconcile_report.csv").read_text(encoding="utf-8") + captured.out + captured.err
    leaked = sorted(
        v for v in private if len(v) >= 3 and re.search(rf"(?<!\w){re.escape(v)}(?!\w)", written, re.IGNORECASE)
    )
    assert leaked == []


def test_matching_pair_exits_0_with_an_empty_report(tmp_path, capsys):
    decomposed = unicodedata.normalize("NFD", "Zoë")
    sis_rows = [sis("2001", "Zoë", "Brontë", "11/12/2010"), sis("2002", "Al", "Ng", "01/01/2012", "I")]
    vendor_rows = [
        vendor("2001", f"  {decomposed}", "Brontë   ", "11/12/2010"),  # padded, and the accent typed another way
        vendor("2002", "Al", "Ng", "01/01/2012", "Inactive"),
    ]
    out = tmp_path / "out"
    assert _reconcile(*_files(tmp_path, sis_rows, vendor_rows), out) == 0
    assert _report(out) == []
    assert "nothing to clean up" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("vendor_first", "vendor_last", "vendor_dob", "fields"),
    [
        ("Zoe", "Brontë", "11/12/2010", "legal_first_name"),  # accents count for identity
        ("zoë", "Brontë", "11/12/2010", "legal_first_name"),  # case counts for identity
        ("Zoë", "Bronte-Smith", "11/12/2010", "legal_last_name"),
        ("Zoë", "Brontë", "12/11/2010", "date_of_birth"),
        ("Zoë", "Brontë", "2010-11-12", "date_of_birth (not a date in the vendor export)"),
        ("Zoë", "Brontë", "", "date_of_birth (not a date in the vendor export)"),
    ],
)
def test_identity_mismatch_names_the_field(tmp_path, vendor_first, vendor_last, vendor_dob, fields):
    out = tmp_path / "out"
    files = _files(
        tmp_path, [sis("2001", "Zoë", "Brontë", "11/12/2010")], [vendor("2001", vendor_first, vendor_last, vendor_dob)]
    )
    assert _reconcile(*files, out) == 1
    assert _report(out) == [("identity_mismatch", "2001", f"differs: {fields}; SIS row 2, vendor row 2")]


def test_bad_birth_date_on_the_sis_side(tmp_path):
    out = tmp_path / "out"
    files = _files(tmp_path, [sis("2001", "Al", "Ng", "02/30/2012")], [vendor("2001", "Al", "Ng", "02/28/2012")])
    assert _reconcile(*files, out) == 1
    assert _report(out) == [
        ("identity_mismatch", "2001", "differs: date_of_birth (not a date in the SIS export); SIS row 2, vendor row 2")
    ]


def test_dates_are_compared_each_in_its_own_format(tmp_path):
    include = copy_include(tmp_path)
    write_district(include, set_key(district_data(), "vendor_export", {"delimiter": "|", "date_format": "%Y-%m-%d"}))
    sis_rows = [sis("2001", "Al", "Ng", "03/04/2012"), sis("2002", "Bo", "Li", "03/04/2012")]
    vendor_rows = [vendor("2001", "Al", "Ng", "2012-03-04"), vendor("2002", "Bo", "Li", "2012-04-03")]
    out = tmp_path / "out"
    assert (
        _reconcile(*_files(tmp_path, sis_rows, vendor_rows, vendor_delimiter="|"), out, "--include-dir", str(include))
        == 1
    )
    assert _report(out) == [("identity_mismatch", "2002", "differs: date_of_birth; SIS row 3, vendor row 3")]


def test_missing_state_id_candidates_are_case_accent_and_space_insensitive(tmp_path):
    sis_rows = [
        sis("3001", "José Luis", "Peña", "01/02/2014"),  # row 2: a candidate
        sis("3002", "JOSE LUIS", "pena", "01/02/2014"),  # row 3: a candidate too (same name and DOB)
        sis("3003", "José Luis", "Peña", "01/03/2014"),  # row 4: another DOB: not a candidate
        sis("3004", "José", "Peña", "01/02/2014"),  # row 5: another first name: not a candidate
        sis("", "José Luis", "Peña", "01/02/2014"),  # row 6: no id: nothing to offer
    ]
    vendor_rows = [
        vendor("", "  jose  luis ", "PEÑA", "01/02/2014"),  # row 2
        vendor("3002", "JOSE LUIS", "pena", "01/02/2014"),  # row 3: 3002 is already there
        vendor("", "Nobody", "Known", "05/05/2015", "Inactive"),  # row 4: no candidate
        vendor("", "José Luis", "Peña", "not a date"),  # row 5: no date, no candidate
    ]
    out = tmp_path / "out"
    assert _reconcile(*_files(tmp_path, sis_rows, vendor_rows), out) == 1
    report = _report(out)
    assert [f for f in report if f[0] == "missing_state_id"] == [
        ("missing_state_id", "", "vendor row 2; SIS candidates: 3001, 3002 (already at the vendor)"),
        ("missing_state_id", "", "vendor row 4; SIS candidates: none"),
        ("missing_state_id", "", "vendor row 5; SIS candidates: none"),
    ]
    adds = {f[1]: f[2] for f in report if f[0] == "add_at_vendor"}
    assert adds["3001"] == "not at the vendor; SIS row 2 (may be vendor row 2 without a State Test Number)"
    assert adds["3003"] == "not at the vendor; SIS row 4" and adds["3004"] == "not at the vendor; SIS row 5"


def test_match_key():
    assert match_key("  José   Luis ") == "jose luis"
    assert match_key("ZOË") == match_key(unicodedata.normalize("NFD", "zoë")) == "zoe"
    assert match_key("Straße") == "strasse"
    assert match_key("Ana") != match_key("Anna")


def test_status_rules(tmp_path):
    sis_rows = [
        sis("4001", "A", "A", "01/01/2012", "I"),  # row 2: inactive in SIS, active at vendor -> inactivate
        sis("4002", "B", "B", "01/01/2012", "I"),  # row 3: inactive in both: fine
        sis("4003", "C", "C", "01/01/2012", "X"),  # row 4: unknown status in SIS: not judged
        sis("4004", "D", "D", "01/01/2012", "A"),  # row 5: active in SIS, inactive at vendor: the night reactivates
        sis("4005", "E", "E", "01/01/2012", "I"),  # row 6: inactive, absent at vendor: fine
    ]
    vendor_rows = [
        vendor("4001", "A", "A", "01/01/2012"),
        vendor("4002", "B", "B", "01/01/2012", "Inactive"),
        vendor("4003", "C", "C", "01/01/2012"),
        vendor("4004", "D", "D", "01/01/2012", "Inactive"),
        vendor("4006", "F", "F", "01/01/2012", "Pending"),  # unknown at the vendor, absent in SIS: not judged
    ]
    out = tmp_path / "out"
    assert _reconcile(*_files(tmp_path, sis_rows, vendor_rows), out) == 1
    assert _report(out) == [("inactivate_at_vendor", "4001", "inactive in the SIS (SIS row 2); vendor row 2")]


def test_duplicates_in_either_file_are_not_compared_further(tmp_path):
    sis_rows = [
        sis("5001", "A", "A", "01/01/2012"),
        sis("5002", "B", "B", "01/01/2012"),
        sis("5001", "Z", "Z", "01/01/2012"),
    ]
    vendor_rows = [
        vendor("5002", "B", "B", "01/01/2012"),
        vendor("5003", "C", "C", "01/01/2012"),
        vendor("5002", "Q", "Q", "02/02/2012"),
        vendor("5003", "C", "C", "01/01/2012"),
        vendor("5003", "C", "C", "01/01/2012"),
        vendor("", "Y", "Y", "01/01/2012"),  # empty ids are not duplicates of each other
        vendor("", "Y", "Y", "01/01/2012"),
    ]
    out = tmp_path / "out"
    assert _reconcile(*_files(tmp_path, sis_rows, vendor_rows), out) == 1
    assert _report(out) == [
        ("missing_state_id", "", "vendor row 7; SIS candidates: none"),
        ("missing_state_id", "", "vendor row 8; SIS candidates: none"),
        ("duplicate", "5001", "2 times in the SIS export (rows 2, 4)"),
        ("duplicate", "5002", "2 times in the vendor export (rows 2, 4)"),
        ("duplicate", "5003", "3 times in the vendor export (rows 3, 5, 6)"),
    ]


def test_sis_rows_without_an_id_are_counted_not_compared(tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        _reconcile(
            *_files(
                tmp_path,
                [sis("", "A", "A", "01/01/2012"), sis("6001", "B", "B", "01/01/2012")],
                [vendor("6001", "B", "B", "01/01/2012")],
            ),
            out,
        )
        == 0
    )
    assert "SIS rows without a State Test Number (not compared; a night rejects them): 1" in capsys.readouterr().out


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("vendor_missing", "vendor.csv: vendor export not found"),
        ("sis_missing", "sis.csv: export not found"),
        (
            "vendor_column",
            "vendor.csv: line 1: required column 'Enrollment Status' (status) is missing from the header",
        ),
        ("vendor_latin1", "vendor.csv: line 3: not valid utf-8 text (save the vendor export as UTF-8)"),
        (
            "vendor_same_header",
            "key 'vendor_export.columns.legal_last_name': header 'First Name' is already mapped to legal_first_name",
        ),
    ],
)
def test_errors_exit_2_with_one_line(tmp_path, capsys, case, expected):
    include = copy_include(tmp_path)
    sis_path, vendor_path = _files(
        tmp_path,
        [sis("7001", "Peña", "A", "01/01/2012")],
        [vendor("7001", "A", "A", "01/01/2012"), vendor("7002", "Peña", "A", "01/01/2012")],
    )
    if case == "vendor_missing":
        vendor_path.unlink()
    elif case == "sis_missing":
        sis_path.unlink()
    elif case == "vendor_column":
        vendor_path.write_text(
            csv_text([vendor("7001", "A", "A", "01/01/2012")], header=VENDOR_HEADER[:-1]), encoding="utf-8"
        )
    elif case == "vendor_latin1":
        vendor_path.write_bytes(
            csv_text(
                [vendor("7001", "A", "A", "01/01/2012"), vendor("7002", "Peña", "A", "01/01/2012")],
                header=VENDOR_HEADER,
            ).encode("latin-1")
        )
    elif case == "vendor_same_header":
        write_district(
            include, set_key(district_data(), "vendor_export", {"columns": {"legal_last_name": "First Name"}})
        )
    assert _reconcile(sis_path, vendor_path, tmp_path / "out", "--include-dir", str(include)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert expected in line
    assert "Peña" not in line


def test_roster_command(tmp_path):
    sis_path, vendor_path = _files(tmp_path, SIS_ROWS, VENDOR_ROWS)
    out = tmp_path / "out"
    result = subprocess.run(
        [
            str(ROSTER_BIN),
            "reconcile",
            "--district",
            "sample_isd",
            "--sis",
            str(sis_path),
            "--vendor",
            str(vendor_path),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert _report(out) == EXPECTED
    assert result.stderr == ""
    assert HEADER[0] == "STATE_ID"  # the SIS file really is the sample district's layout


# Middle names -------------------------------------------------------------------------------------

MIDDLE_HEADER = [*VENDOR_HEADER[:2], "Middle Name", *VENDOR_HEADER[2:]]


def _middle_files(tmp_path: Path, sis_middle: str, vendor_middle: str, *, header: list[str] = MIDDLE_HEADER):
    sis_path = write_export(
        tmp_path, [{**sis("3001", "Ana", "Ruiz", "01/02/2013"), "MIDDLE_NAME": sis_middle}], name="sis.csv"
    )
    values = {"State IDNumber": "3001", "First Name": "Ana", "Middle Name": vendor_middle, "Last Name": "Ruiz"}
    values |= {"Date of Birth": "01/02/2013", "Enrollment Status": "Active"}
    vendor_path = write_export(
        tmp_path, name="vendor.csv", text=csv_text([{h: values[h] for h in header}], header=header)
    )
    return sis_path, vendor_path


@pytest.mark.parametrize(
    ("sis_middle", "vendor_middle", "findings"),
    [
        ("Luz", "Luz", []),
        (" Luz", "Luz  ", []),  # surrounding spaces do not count, as for the other names
        ("Luz", "luz", [("identity_mismatch", "3001", "differs: legal_middle_name; SIS row 2, vendor row 2")]),
        ("Luz", "", [("identity_mismatch", "3001", "differs: legal_middle_name; SIS row 2, vendor row 2")]),
        ("", "Maria", [("identity_mismatch", "3001", "differs: legal_middle_name; SIS row 2, vendor row 2")]),
    ],
)
def test_middle_name_is_compared_when_both_files_carry_it(tmp_path, capsys, sis_middle, vendor_middle, findings):
    out = tmp_path / "out"
    assert _reconcile(*_middle_files(tmp_path, sis_middle, vendor_middle), out) == (1 if findings else 0)
    assert _report(out) == findings
    printed = capsys.readouterr().out
    assert "without a middle name" not in printed
    assert "Luz" not in printed and "Maria" not in printed


def test_middle_name_is_named_among_the_other_fields_in_order(tmp_path):
    sis_path, vendor_path = _middle_files(tmp_path, "Luz", "Sol")
    text = vendor_path.read_text(encoding="utf-8").replace("Ruiz", "Ruis").replace(",Ana,", ",Anna,")
    vendor_path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert _reconcile(sis_path, vendor_path, out) == 1
    detail = "differs: legal_first_name, legal_middle_name, legal_last_name; SIS row 2, vendor row 2"
    assert _report(out) == [("identity_mismatch", "3001", detail)]


def test_a_vendor_export_without_the_middle_name_column_is_compared_without_it(tmp_path, capsys):
    out = tmp_path / "out"
    assert _reconcile(*_middle_files(tmp_path, "Luz", "", header=VENDOR_HEADER), out) == 0
    assert _report(out) == []
    assert (
        "vendor rows compared without a middle name (the vendor export has no 'Middle Name' column): 1"
        in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("vendor_export.columns.legal_middle_name", None, "vendor_export.columns.legal_middle_name is null"),
        ("source.columns.legal_middle_name", None, "the SIS export has no legal_middle_name column in source.columns"),
    ],
)
def test_middle_name_not_compared_when_a_side_does_not_map_it(tmp_path, capsys, key, value, reason):
    include = copy_include(tmp_path)
    write_district(include, set_key({**district_data(), "vendor_export": {"columns": {}}}, key, value))
    out = tmp_path / "out"
    assert _reconcile(*_middle_files(tmp_path, "Luz", "Sol"), out, "--include-dir", str(include)) == 0
    assert _report(out) == []
    assert f"vendor rows compared without a middle name ({reason}): 1" in capsys.readouterr().out


def test_a_renamed_vendor_middle_name_column(tmp_path):
    include = copy_include(tmp_path)
    write_district(include, {**district_data(), "vendor_export": {"columns": {"legal_middle_name": "Middle"}}})
    header = [h if h != "Middle Name" else "Middle" for h in MIDDLE_HEADER]
    sis_path, vendor_path = _middle_files(tmp_path, "Luz", "Sol", header=MIDDLE_HEADER)
    vendor_path.write_text(vendor_path.read_text(encoding="utf-8").replace("Middle Name", header[2]), encoding="utf-8")
    out = tmp_path / "out"
    assert _reconcile(sis_path, vendor_path, out, "--include-dir", str(include)) == 1
    assert _report(out)[0][2].startswith("differs: legal_middle_name;")


def test_merge_folds_one_students_enrollment_rows_before_comparing(tmp_path, capsys):
    # 6001 has two enrollments of one identity: folded into the active row (row 3), so it is
    # compared once and matches. 6002's rows disagree on the first name: two people, a duplicate.
    sis_rows = [
        sis("6001", "Ana", "Ruiz", "01/02/2012", "I"),  # row 2: the old campus, inactive
        sis("6001", "Ana", "Ruiz", "1/2/2012"),  # row 3: the same student, active (DOB written otherwise)
        sis("6002", "Bo", "Lin", "03/04/2011"),  # row 4
        sis("6002", "Bea", "Lin", "03/04/2011"),  # row 5
    ]
    vendor_rows = [vendor("6001", "Ana", "Ruiz", "01/02/2012"), vendor("6002", "Bo", "Lin", "03/04/2011")]
    include = copy_include(tmp_path)
    write_district(include, set_key(district_data(), "source.duplicate_rows", "merge"))
    out = tmp_path / "out"
    assert _reconcile(*_files(tmp_path, sis_rows, vendor_rows), out, "--include-dir", str(include)) == 1
    assert _report(out) == [("duplicate", "6002", "2 times in the SIS export (rows 4, 5)")]
    assert "SIS rows merged into another row of the same student (source.duplicate_rows: merge): 1" in (
        capsys.readouterr().out
    )
