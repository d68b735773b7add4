"""Reading SIS exports: text kept as text, encodings, BOM, line endings, headers, ragged rows."""

from __future__ import annotations

import unicodedata

import pytest

from domain_fixtures import (
    GOOD_ROW,
    HEADER,
    accepted_values,
    csv_text,
    make_district,
    reject_set,
    row,
    validate_rows,
    write_export,
)
from roster.errors import InputError
from roster.io.export import read_export, read_header


def test_values_are_kept_as_text_with_leading_zeros(tmp_path):
    result = validate_rows(tmp_path, [row(STATE_ID="0001234", LOCAL_ID="000987", GRADE="05", ELA_SCORE="007")])
    assert reject_set(result) == set()
    assert accepted_values(result, "state_test_number") == ["0001234"]
    assert accepted_values(result, "local_student_id") == ["000987"]
    assert accepted_values(result, "grade") == ["05"]
    assert accepted_values(result, "ela_score") == ["007"]


@pytest.mark.parametrize("surname", ["NA", "Null", "NULL", "None", "N/A", "nan", "NaN", "#N/A", "TRUE"])
def test_null_like_surnames_are_names(tmp_path, surname):
    result = validate_rows(tmp_path, [row(LAST_NAME=surname, FIRST_NAME="Nan")])
    assert reject_set(result) == set()
    assert accepted_values(result, "legal_last_name") == [surname]
    assert accepted_values(result, "legal_first_name") == ["Nan"]


def test_names_are_nfc_normalized(tmp_path):
    decomposed = "Jose\u0301"  # e + combining acute accent
    assert unicodedata.is_normalized("NFD", decomposed) and decomposed != "Jos\u00e9"
    result = validate_rows(
        tmp_path,
        [row(FIRST_NAME=decomposed, MIDDLE_NAME="Rene\u0301e", LAST_NAME="Mu\u0308ller")],
    )
    assert reject_set(result) == set()
    assert accepted_values(result, "legal_first_name") == ["Jos\u00e9"]
    assert accepted_values(result, "legal_middle_name") == ["Ren\u00e9e"]
    assert accepted_values(result, "legal_last_name") == ["M\u00fcller"]


def test_spaces_around_values_are_trimmed(tmp_path):
    result = validate_rows(
        tmp_path,
        [
            row(
                STATE_ID="  0001234 ",
                FIRST_NAME="  Jose\u0301  ",
                LAST_NAME=" Smith",
                GRADE=" 05 ",
                CAMPUS="102 ",
                STATUS=" A",
            )
        ],
    )
    assert reject_set(result) == set()
    assert accepted_values(result, "state_test_number") == ["0001234"]
    assert accepted_values(result, "legal_first_name") == ["Jos\u00e9"]
    assert accepted_values(result, "legal_last_name") == ["Smith"]
    assert accepted_values(result, "grade") == ["05"]
    assert accepted_values(result, "campus") == ["102"]
    assert accepted_values(result, "status") == ["A"]


def test_inner_spaces_are_kept(tmp_path):
    result = validate_rows(tmp_path, [row(FIRST_NAME="Mary  Ann", LAST_NAME="De La Cruz")])
    assert accepted_values(result, "legal_first_name") == ["Mary  Ann"]
    assert accepted_values(result, "legal_last_name") == ["De La Cruz"]


def test_utf8_bom_is_accepted(tmp_path):
    result = validate_rows(tmp_path, [row(FIRST_NAME="Zoë")], bom=True)
    assert reject_set(result) == set()
    assert accepted_values(result, "state_test_number") == ["0001234"]
    assert accepted_values(result, "legal_first_name") == ["Zoë"]


def test_utf8_bom_is_accepted_when_the_district_says_utf8_sig(tmp_path):
    district = make_district({"source.encoding": "utf-8-sig"})
    result = validate_rows(tmp_path, [row()], district=district, bom=True)
    assert reject_set(result) == set()
    assert accepted_values(result, "state_test_number") == ["0001234"]


def test_read_header_strips_bom_and_spaces(tmp_path):
    path = write_export(tmp_path, text=" STATE_ID , LOCAL_ID\r\n1,2\r\n", bom=True)
    assert read_header(path, make_district().source) == ["STATE_ID", "LOCAL_ID"]


def test_crlf_line_endings(tmp_path):
    rows = [row(STATE_ID="0001234", MATH_SCORE="300"), row(STATE_ID="0001235", MATH_SCORE="")]
    result = validate_rows(tmp_path, rows, eol="\r\n")
    assert reject_set(result) == set()
    assert accepted_values(result, "math_score") == ["300", ""]
    assert result.report.rows_read == 2


def test_header_names_with_surrounding_spaces_are_found(tmp_path):
    text = ", ".join(HEADER) + "\n" + ",".join(GOOD_ROW[h] for h in HEADER) + "\n"
    result = validate_rows(tmp_path, text=text)
    assert reject_set(result) == set()
    assert accepted_values(result, "state_test_number") == ["0001234"]
    assert accepted_values(result, "local_student_id") == ["L0001234"]


def test_columns_in_any_order_and_extra_columns_ignored(tmp_path):
    header = ["EXTRA", *reversed(HEADER), "ANOTHER"]
    text = csv_text([{**row(), "EXTRA": "x|y", "ANOTHER": "\t"}], header=header)
    result = validate_rows(tmp_path, text=text)
    assert reject_set(result) == set()
    assert "EXTRA" not in result.accepted.columns
    assert accepted_values(result, "legal_last_name") == ["Gonzalez"]


def test_other_delimiter(tmp_path):
    district = make_district({"source.delimiter": ";"})
    result = validate_rows(tmp_path, [row(FIRST_NAME="Ann, Marie")], district=district, delimiter=";")
    assert reject_set(result) == set()
    assert accepted_values(result, "legal_first_name") == ["Ann, Marie"]


def test_latin1_export_with_latin1_encoding(tmp_path):
    district = make_district({"source.encoding": "latin-1"})
    rows = [row(STATE_ID="0001234", FIRST_NAME="José", LAST_NAME="Müller"), row(STATE_ID="0001235", LAST_NAME="Peña")]
    result = validate_rows(tmp_path, rows, district=district, encoding="latin-1")
    assert reject_set(result) == set()
    assert accepted_values(result, "legal_first_name") == ["José", "Maria"]
    assert accepted_values(result, "legal_last_name") == ["Müller", "Peña"]


def test_latin1_export_read_as_utf8_names_the_line(tmp_path):
    rows = [row(STATE_ID="0001234"), row(STATE_ID="0001235"), row(STATE_ID="0001236", LAST_NAME="Peña")]
    path = write_export(tmp_path, rows, encoding="latin-1")
    with pytest.raises(InputError) as info:
        read_export(path, make_district().source)
    message = str(info.value)
    assert str(path) in message
    assert "line 4:" in message
    assert "utf-8" in message
    assert "Peña" not in message and "Pe\ufffda" not in message
    assert "\n" not in message


def test_a_bare_carriage_return_in_the_header_is_a_clear_verdict(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"STATE_ID\r\x01,FIRST_NAME\n1,2\n")
    with pytest.raises(InputError, match="line 1: not a CSV header"):
        read_export(path, make_district().source)


def test_non_utf8_header_names_line_1(tmp_path):
    path = write_export(tmp_path, text="STATE_ID,PRÉNOM\n1,2\n", encoding="latin-1")
    with pytest.raises(InputError, match="line 1: not valid utf-8"):
        read_export(path, make_district().source)


@pytest.mark.parametrize(
    ("dropped", "canonical", "kind"),
    [
        ("DOB", "date_of_birth", "required"),
        ("STATE_ID", "state_test_number", "required"),
        ("STATUS", "status", "required"),
        ("DIAGNOSIS", "diagnosis", "mapped"),
    ],
)
def test_missing_column_names_header_and_field(tmp_path, dropped, canonical, kind):
    header = [h for h in HEADER if h != dropped]
    path = write_export(tmp_path, [row()], header=header)
    with pytest.raises(InputError) as info:
        read_export(path, make_district().source)
    message = str(info.value)
    assert message.startswith(f"{path}: line 1: ")
    assert f"{kind} column '{dropped}' ({canonical}) is missing from the header" in message


def test_wrong_delimiter_gets_a_hint(tmp_path):
    path = write_export(tmp_path, [row()], delimiter=";")
    with pytest.raises(InputError, match=r"is the file delimited by ','\?"):
        read_export(path, make_district().source)


def test_repeated_header_is_an_error(tmp_path):
    path = write_export(tmp_path, text=",".join([*HEADER, "DOB"]) + "\n")
    with pytest.raises(InputError, match=r"line 1: column 'DOB' \(date_of_birth\) appears 2 times"):
        read_export(path, make_district().source)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(InputError, match="export not found") as info:
        read_export(path, make_district().source)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content", [b"", b"\r\n", b"\xef\xbb\xbf\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match="the file is empty"):
        read_export(path, make_district().source)


def test_header_only_export_has_no_rows_and_fails_qa(tmp_path):
    result = validate_rows(tmp_path, [])
    assert result.report.rows_read == 0
    assert result.report.passed is False
    assert result.report.verdict == "the export holds no student rows"


def _raw_line(values: dict[str, str], extra: str = "") -> str:
    return ",".join(values[h] for h in HEADER) + extra


def test_ragged_row_is_rejected_with_its_row_number(tmp_path):
    lines = [
        ",".join(HEADER),
        _raw_line(row(STATE_ID="0001001")),  # row 2: good
        _raw_line(row(STATE_ID="0001002"), extra=",surplus"),  # row 3: one column too many
        _raw_line(row(STATE_ID="0001003", GRADE="13")),  # row 4: unknown grade
        "0001004,L1,Short",  # row 5: too few columns
        _raw_line(row(STATE_ID="0001005")),  # row 6: good
    ]
    result = validate_rows(tmp_path, text="\n".join(lines) + "\n")
    assert reject_set(result) == {
        (3, "(row)", "ragged_row"),
        (4, "grade", "unknown_grade"),
        (5, "(row)", "ragged_row"),
    }
    ragged = result.rejects[result.rejects["reason"] == "ragged_row"]
    assert ragged["state_test_number"].tolist() == ["", ""]
    assert result.accepted["row_number"].tolist() == [2, 6]
    assert accepted_values(result, "state_test_number") == ["0001001", "0001005"]
    assert result.report.rows_read == 5
    assert result.report.rows_rejected == 3
    assert result.report.rejects_by_reason == {"ragged_row": 2, "unknown_grade": 1}


def test_row_numbers_count_records_not_lines(tmp_path):
    """A quoted line break inside a value is one row; row numbers after it stay right."""
    rows = [
        row(STATE_ID="0001001", FIRST_NAME="Ann\nMarie"),  # row 2, spans two lines
        row(STATE_ID="0001002"),  # row 3
        row(STATE_ID="0001003", CAMPUS="999"),  # row 4
    ]
    text = csv_text(rows)
    assert text.count("\n") == 5
    result = validate_rows(tmp_path, text=text)
    assert reject_set(result) == {(2, "legal_first_name", "forbidden_character"), (4, "campus", "unknown_campus")}
    assert result.accepted["row_number"].tolist() == [3]


def test_many_rows_with_a_ragged_row_late_in_the_file(tmp_path):
    """Larger than one parser block (4 MiB), so the threaded parser cannot number the bad row."""
    pad = "x" * 300  # an unmapped column, to pass the block size with few rows
    rows = [row(STATE_ID=f"{n:09d}") for n in range(1, 20001)]
    lines = [",".join(HEADER) + ",PAD"] + [_raw_line(r) + "," + pad for r in rows]
    lines[15000] += ",surplus"  # row 15001 in spreadsheet numbering
    assert sum(len(line) for line in lines) > 1 << 22
    result = validate_rows(tmp_path, text="\n".join(lines) + "\n")
    assert reject_set(result) == {(15001, "(row)", "ragged_row")}
    assert result.report.rows_read == 20000
    numbers = result.accepted["row_number"].tolist()
    assert len(numbers) == 19999
    assert numbers[14998:15001] == [15000, 15002, 15003]
    assert result.accepted["state_test_number"].tolist()[14998:15001] == ["000014999", "000015001", "000015002"]
