"""Reading SIS exports from Excel workbooks: cells as the sheet shows them, the sheet's row numbers,
one clear verdict per unreadable workbook (never quoting a cell), and the same canonical table as
the CSV export of the same students. Workbooks are built in tmp_path with openpyxl."""

from __future__ import annotations

import datetime as dt
import re
import zipfile

import pytest
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference

from devtools.sample import HEADER, generate_rows, render_csv
from domain_fixtures import ROSTER_DATE, make_district
from roster.errors import InputError
from roster.io.export import read_export
from roster.io.number_format import general, render_number
from roster.io.workbook import read_workbook

COLUMNS = {
    "state_test_number": "STATE_ID",
    "legal_first_name": "FIRST_NAME",
    "legal_last_name": "LAST_NAME",
    "date_of_birth": "DOB",
    "grade": "GRADE",
    "ela_score": "ELA_SCORE",
}
REQUIRED = ("state_test_number", "legal_first_name", "legal_last_name", "date_of_birth", "grade")
SHORT = ["STATE_ID", "FIRST_NAME", "LAST_NAME", "DOB", "GRADE", "ELA_SCORE"]
GOOD = [1234, "Ana", "Smith", dt.date(2012, 3, 4), "05", 87]


def save(tmp_path, rows, *, title="Students", formats=None, name="export.xlsx", header=SHORT):
    """A one-sheet workbook: ``header`` then ``rows`` (None: a blank row); ``formats`` maps cell -> number format."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    if header is not None:
        sheet.append(header)
    for values in rows:
        sheet.append(values or [])
    for ref, number_format in (formats or {}).items():
        sheet[ref].number_format = number_format
    path = tmp_path / name
    workbook.save(path)
    return path


def read(path, **options):
    options.setdefault("date_format", "%m/%d/%Y")
    return read_workbook(path, COLUMNS, required=REQUIRED, **options)


def values(export, field):
    return export.table[field].to_pylist()


def error(path, **options) -> str:
    with pytest.raises(InputError) as caught:
        read(path, **options)
    return str(caught.value)


# Cells as the sheet shows them --------------------------------------------------------------------


def test_numbers_read_as_displayed_never_as_floats(tmp_path):
    rows = [
        [1234, "Ana", "Smith", dt.date(2012, 3, 4), 5, 87],
        [1234.0, "Ana", "Smith", dt.date(2012, 3, 4), 5.0, 87.0],
        ["0001234", "Ana", "Smith", dt.date(2012, 3, 4), "05", "007"],
        [98765, "Ana", "Smith", dt.date(2012, 3, 4), 5, 0.875],
        [12345678901, "Ana", "Smith", dt.date(2012, 3, 4), 12, 99.95],
    ]
    formats = {"A2": "0000000", "A3": "0000000", "E2": "00", "E3": "00", "F5": "0%", "F6": "0.0"}
    export = read(save(tmp_path, rows, formats=formats))
    assert values(export, "state_test_number") == ["0001234", "0001234", "0001234", "98765", "12345678901"]
    assert values(export, "grade") == ["05", "05", "05", "5", "12"]
    assert values(export, "ela_score") == ["87", "87", "007", "88%", "100.0"]


def test_date_cells_take_the_district_date_format_whatever_the_sheet_shows(tmp_path):
    rows = [
        [1, "Ana", "Smith", dt.date(2012, 3, 4), "05", 1],
        [2, "Ana", "Smith", dt.datetime(2012, 3, 4, 13, 30), "05", 1],
        [3, "Ana", "Smith", dt.date(2012, 3, 4), "05", 1],
        [4, "Ana", "Smith", "03/04/2012", "05", 1],
        [5, "Ana", "Smith", "2012-03-04", "05", 1],
    ]
    path = save(tmp_path, rows, formats={"D4": "d-mmm-yy"})
    assert values(read(path), "date_of_birth") == ["03/04/2012", "03/04/2012", "03/04/2012", "03/04/2012", "2012-03-04"]
    # Text is never reinterpreted: only date cells follow date_format.
    assert values(read(path, date_format="%Y-%m-%d"), "date_of_birth") == [
        "2012-03-04",
        "2012-03-04",
        "2012-03-04",
        "03/04/2012",
        "2012-03-04",
    ]


def test_text_booleans_errors_and_empty_cells(tmp_path):
    rows = [
        [1, "  Jose\u0301 ", " NA", dt.date(2012, 3, 4), "KG", None],
        [2, "TRUE", "Null", dt.date(2012, 3, 4), True, "#N/A"],
    ]
    export = read(save(tmp_path, rows))
    assert values(export, "legal_first_name") == ["Jos\u00e9", "TRUE"]
    assert values(export, "legal_last_name") == ["NA", "Null"]
    assert values(export, "grade") == ["KG", "TRUE"]
    assert values(export, "ela_score") == ["", "#N/A"]
    assert export.table.schema.field("ela_score").type == "large_string"


def test_row_numbers_are_the_sheets_with_blank_rows_counted_not_read(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Students"
    for column, name in enumerate(SHORT, start=1):
        sheet.cell(3, column, name)  # the header in row 3, two blank rows above it
    for row in (4, 7, 8):
        for column, value in enumerate(GOOD, start=1):
            sheet.cell(row, column, value)
    sheet.cell(5, 1).number_format = "00000"  # styled but empty: still a blank row
    sheet.cell(6, 1, "   ")
    path = tmp_path / "gaps.xlsx"
    workbook.save(path)
    export = read(path)
    assert export.table["row_number"].to_pylist() == [4, 7, 8]
    assert export.rows_read == 3 and export.ragged_rows == [] and export.notes == []


def test_columns_are_found_by_name_in_any_order_extra_columns_ignored(tmp_path):
    header = ["NOTES", "ELA_SCORE", "GRADE", "DOB", "LAST_NAME", "FIRST_NAME", " STATE_ID "]
    path = save(tmp_path, [["x", 87, "05", dt.date(2012, 3, 4), "Smith", "Ana", 1234, "stray"]], header=header)
    export = read(path)
    assert export.table.column_names == [*COLUMNS, "row_number"]
    assert export.table.slice(0, 1).to_pylist()[0] == {
        "state_test_number": "1234",
        "legal_first_name": "Ana",
        "legal_last_name": "Smith",
        "date_of_birth": "03/04/2012",
        "grade": "05",
        "ela_score": "87",
        "row_number": 2,
    }


def test_a_header_only_sheet_gives_no_rows(tmp_path):
    export = read(save(tmp_path, []))
    assert export.table.num_rows == 0 and export.rows_read == 0


# Sheets ------------------------------------------------------------------------------------------


def two_sheets(tmp_path, *, first_state="visible"):
    workbook = Workbook()
    codes = workbook.active
    codes.title = "Codes"
    codes.append(["CODE"])
    codes.sheet_state = first_state
    students = workbook.create_sheet("Students")
    students.append(SHORT)
    students.append(GOOD)
    path = tmp_path / "two.xlsx"
    workbook.save(path)
    return path


def test_sheet_by_name_or_index(tmp_path):
    path = two_sheets(tmp_path)
    assert values(read(path, sheet="Students"), "state_test_number") == ["1234"]
    assert values(read(path, sheet=1), "state_test_number") == ["1234"]
    assert (
        error(path)
        == f"{path}: sheet 'Codes' row 1: required column 'STATE_ID' (state_test_number) is missing from the header"
    )


def test_missing_sheet_lists_the_sheets(tmp_path):
    path = two_sheets(tmp_path)
    assert (
        error(path, sheet="Roster")
        == f"{path}: no sheet named 'Roster' (source.sheet); the sheets are 'Codes', 'Students'"
    )
    assert error(path, sheet=2) == (
        f"{path}: no sheet at index 2 (source.sheet counts from 0); the workbook has 2 sheet(s): 'Codes', 'Students'"
    )


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_hidden_sheet_is_refused_by_default_or_by_name(tmp_path, state):
    path = two_sheets(tmp_path, first_state=state)
    assert error(path) == (
        f"{path}: the first sheet 'Codes' is hidden; unhide it in Excel and check it holds the students, "
        "or set source.sheet to the sheet that does"
    )
    assert error(path, sheet=0).startswith(f"{path}: sheet 'Codes' is hidden; ")
    assert values(read(path, sheet="Students"), "grade") == ["05"]


def test_a_chart_sheet_is_refused(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Students"
    sheet.append(["GRADE", 1])
    chart = BarChart()
    chart.add_data(Reference(sheet, min_col=2, min_row=1, max_row=1))
    workbook.create_chartsheet("Chart").add_chart(chart)
    path = tmp_path / "chart.xlsx"
    workbook.save(path)
    assert error(path, sheet="Chart") == f"{path}: sheet 'Chart' is a chart, not a sheet of cells; set source.sheet"


def test_an_empty_sheet(tmp_path):
    path = save(tmp_path, [], header=None)
    assert error(path) == f"{path}: sheet 'Students' is empty; expected a header row"


# Header verdicts ---------------------------------------------------------------------------------


def test_missing_and_repeated_columns(tmp_path):
    path = save(tmp_path, [GOOD], header=["STATE_ID", "FIRST_NAME", "LAST_NAME", "DOB", "GRADE"], name="a.xlsx")
    assert (
        error(path)
        == f"{path}: sheet 'Students' row 1: mapped column 'ELA_SCORE' (ela_score) is missing from the header"
    )
    path = save(tmp_path, [GOOD], header=[*SHORT, "GRADE"], name="b.xlsx")
    assert error(path) == f"{path}: sheet 'Students' row 1: column 'GRADE' (grade) appears 2 times in the header"


def test_the_header_again_further_down(tmp_path):
    path = save(tmp_path, [GOOD, None, SHORT, GOOD])
    assert error(path) == (
        f"{path}: sheet 'Students' row 4: the header row appears again: are two exports pasted into one sheet? "
        "Send one export with one header row"
    )


# Formulas and merged cells -----------------------------------------------------------------------


def test_a_formula_names_the_cell_never_the_formula(tmp_path):
    path = save(tmp_path, [GOOD, [1235, '=PROPER("maría")', "Smith", dt.date(2012, 3, 4), "05", 87]])
    message = error(path)
    assert message == (
        f"{path}: sheet 'Students' cell B3 (FIRST_NAME): a formula, not a value; save the sheet's values instead "
        "of its formulas (copy the sheet, then Paste Special > Values)"
    )
    assert "mar" not in message.lower() and "PROPER" not in message


def test_a_formula_in_an_unmapped_column_is_not_read(tmp_path):
    path = save(tmp_path, [[*GOOD, "=1+1"]], header=[*SHORT, "AGE"])
    assert values(read(path), "state_test_number") == ["1234"]


def test_a_formula_in_the_header(tmp_path):
    path = save(tmp_path, [GOOD], header=['="STATE_ID"', *SHORT[1:]])
    assert error(path) == (
        f"{path}: sheet 'Students' cell A1: a formula in the header row; save the sheet's values, not its formulas"
    )


def merged(tmp_path, cells: str, name="merged.xlsx"):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Students"
    sheet.append(SHORT)
    for _ in range(3):
        sheet.append(GOOD)
    sheet.merge_cells(cells)
    path = tmp_path / name
    workbook.save(path)
    return path


def test_merged_cells_in_a_mapped_column_name_the_range(tmp_path):
    path = merged(tmp_path, "E2:E4")
    assert error(path) == (
        f"{path}: sheet 'Students' cells E2:E4: merged cells (column 'GRADE'); a merged cell holds its value in "
        "its first row only: unmerge them and fill in every row"
    )


def test_merged_cells_outside_the_mapped_columns_are_read(tmp_path):
    export = read(merged(tmp_path, "H2:J4"))
    assert values(export, "grade") == ["05", "05", "05"]


# Files that are not workbooks --------------------------------------------------------------------


def ole_file(path, *streams: str):
    """An OLE2 compound file's magic and directory names (how .xls and encrypted workbooks start)."""
    body = b"".join(name.encode("utf-16-le") + b"\0\0" for name in streams)
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + body)
    return path


def test_an_old_xls_workbook(tmp_path):
    path = ole_file(tmp_path / "export.xls", "Workbook", "SummaryInformation")
    assert error(path) == (
        f"{path}: not an .xlsx workbook: it is an old Excel workbook (.xls); save it from Excel as an Excel Workbook (.xlsx)"
    )


def test_a_password_protected_workbook(tmp_path):
    path = ole_file(tmp_path / "export.xlsx", "EncryptionInfo", "EncryptedPackage")
    assert error(path) == (
        f"{path}: the workbook is password-protected (encrypted), so it cannot be read; "
        "save a copy without a password to open"
    )


def test_a_csv_named_xlsx(tmp_path):
    path = tmp_path / "export.xlsx"
    path.write_bytes(render_csv(generate_rows(3, ROSTER_DATE)))
    assert error(path) == (
        f"{path}: not an Excel workbook: the file is text (a CSV export named .xlsx?); "
        "send the workbook itself, or read the file as CSV"
    )


def test_empty_file_other_zip_and_binary(tmp_path):
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    assert error(empty) == f"{empty}: the file is empty; expected an Excel workbook (.xlsx)"
    archive = tmp_path / "oneroster.xlsx"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("users.csv", "sourcedId\n1\n")
    assert error(archive) == f"{archive}: a zip archive, but not an Excel workbook (.xlsx) that can be read"
    binary = tmp_path / "image.xlsx"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    assert error(binary) == f"{binary}: not an Excel workbook (.xlsx)"


def test_the_file_name_does_not_matter(tmp_path):
    path = save(tmp_path, [GOOD], name="export_roster_20261120")
    assert values(read(path), "state_test_number") == ["1234"]


# The same students as CSV and as a workbook ------------------------------------------------------


def _typed(header: str, value: str):
    """A sample value as an SIS writing a workbook stores it: ids and scores as numbers, dates as dates."""
    if value == "":
        return None, None
    if header in ("STATE_ID", "CAMPUS") and value.isdigit():
        return int(value), "0" * len(value)
    if header == "ELA_SCORE" and value.isdigit() and str(int(value)) == value:
        return int(value), None
    if header == "MATH_SCORE" and re.fullmatch(r"\d+\.\d", value):
        return float(value), "0.0"
    if header == "DOB":
        try:
            return dt.datetime.strptime(value, "%m/%d/%Y").date(), "yyyy-mm-dd"
        except ValueError:
            pass
    return value, None


def test_the_sample_as_a_workbook_reads_as_the_sample_csv(tmp_path):
    students = generate_rows(120, ROSTER_DATE)
    blank = 40  # a blank line in the CSV, a blank row in the sheet: the same row numbers after it
    csv_path = tmp_path / "export.csv"
    lines = render_csv(students).split(b"\r\n")
    csv_path.write_bytes(b"\r\n".join([*lines[: blank - 1], b"", *lines[blank - 1 :]]))
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Students"
    sheet.append(HEADER)
    for number, student in enumerate(students, start=2):
        row = number if number < blank else number + 1
        for column, header in enumerate(HEADER, start=1):
            value, number_format = _typed(header, student[header])
            cell = sheet.cell(row, column, value)
            if number_format:
                cell.number_format = number_format
    xlsx_path = tmp_path / "export.xlsx"
    workbook.save(xlsx_path)

    source = make_district().source
    from_csv = read_export(csv_path, source)
    from_xlsx = read_workbook(xlsx_path, source.columns.mapped(), date_format=source.date_format)
    assert from_csv.table.num_rows == 120 and blank not in from_csv.table["row_number"].to_pylist()
    assert from_xlsx.table.schema == from_csv.table.schema
    assert from_xlsx.table.to_pylist() == from_csv.table.to_pylist()
    assert from_xlsx.rows_read == from_csv.rows_read


# Number formats ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "number_format", "shown"),
    [
        (123, "00000", "00123"),
        (123.0, "00000", "00123"),
        (87, "General", "87"),
        (87.0, "General", "87"),
        (0.1 + 0.2, "General", "0.3"),
        (1e-05, "General", "1E-05"),
        (12345678901234567.0, "General", "1.23456789012346E+16"),
        (5, "@", "5"),
        (2.5, "0", "3"),
        (-2.5, "0", "-3"),
        (3.25, "0.0", "3.3"),
        (3.0, "0.0", "3.0"),
        (1.5, "0.0#", "1.5"),
        (1.555, "0.0#", "1.56"),
        (0.5, "#.00", ".50"),
        (0.5, "0%", "50%"),
        (0.1234, "0.00%", "12.34%"),
        (1234567.891, "#,##0.00", "1,234,567.89"),
        (1500000, '#,##0,,"M"', "2M"),
        (-5, "0;(0)", "(5)"),
        (0, '0;-0;"none"', "none"),
        (1234.5, "$#,##0.00", "$1,234.50"),
        (1234, "[$€-407] #,##0", "€ 1,234"),
        (5, '"ID-"00000', "ID-00005"),
        (5, r"\#0", "#5"),
        (5, "[Red]0.00", "5.00"),
        (5, "_(* #,##0_)", "5"),
        (12345, "0.00E+00", "1.23E+04"),
        (0.00012, "0.0E+0", "1.2E-4"),
        (9.99, "0.0E+00", "1.0E+01"),
        (1.5, "# ?/?", "1.5"),
        (150, "[>100]0;0.0", "150"),
    ],
)
def test_number_formats(value, number_format, shown):
    assert render_number(value, number_format) == shown


def test_general_booleans():
    assert general(True) == "TRUE" and general(False) == "FALSE"
