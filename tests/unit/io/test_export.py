"""Reading SIS exports: text kept as text, encodings, BOM, line endings, headers, ragged rows,
row numbers with blank lines, end-of-file junk."""

from __future__ import annotations

import unicodedata

import pytest

from domain_fixtures import (
    GOOD_ROW,
    HEADER,
    accepted_values,
    csv_text,
    make_district,
    make_night,
    reject_set,
    row,
    validate_rows,
    write_export,
)
from roster.errors import InputError
from roster.io.export import read_export, read_header
from roster.night.pipeline import check_export
from roster.night.qa import QaReport


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


def test_a_bare_carriage_return_in_the_header_ends_the_header_line(tmp_path):
    """A lone CR is a line ending (old Mac files), so the header is what comes before it."""
    path = tmp_path / "export.csv"
    path.write_bytes(b"STATE_ID\r\x01,FIRST_NAME\n1,2\n")
    assert read_header(path, make_district().source) == ["STATE_ID"]
    with pytest.raises(InputError, match=r"line 1: required column 'FIRST_NAME' .* is missing from the header"):
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


# Encodings: the declared one checked against the bytes; UTF-16/32 read -------------------------------

_ACCENTED = [row(STATE_ID="0001001"), row(STATE_ID="0001002", FIRST_NAME="José"), row(STATE_ID="0001003")]


@pytest.mark.parametrize("declared", ["windows-1252", "cp1252", "latin-1", "iso-8859-15", "cp850"])
def test_utf8_export_declared_as_a_legacy_code_page_is_refused(tmp_path, declared):
    """Read as a code page, UTF-8 would deliver "JosÃ©"; the file is UTF-8, and the message says so."""
    path = write_export(tmp_path, _ACCENTED)
    with pytest.raises(InputError) as info:
        read_export(path, make_district({"source.encoding": declared}).source)
    message = str(info.value)
    assert message.startswith(f"{path}: line 3: not {declared} text: the file is UTF-8")
    assert message.endswith("set source.encoding: utf-8 in the district file")
    assert "José" not in message and "\n" not in message


@pytest.mark.parametrize("declared", ["windows-1252", "latin-1", "utf-8", "utf-16"])
def test_a_declared_encoding_reads_its_own_files(tmp_path, declared):
    result = validate_rows(
        tmp_path, _ACCENTED, encoding=declared, district=make_district({"source.encoding": declared})
    )
    assert reject_set(result) == set()
    assert accepted_values(result, "legal_first_name") == ["Maria", "José", "Maria"]


@pytest.mark.parametrize(
    ("data", "how"),
    [
        (csv_text(_ACCENTED).encode("utf-16"), "a byte-order mark"),
        (csv_text(_ACCENTED).encode("utf-16-le"), "no byte-order mark"),
        (csv_text(_ACCENTED).encode("utf-16-be"), "no byte-order mark"),
    ],
)
@pytest.mark.parametrize("declared", ["utf-8", "windows-1252"])
def test_utf16_export_declared_as_8bit_is_refused(tmp_path, data, how, declared):
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_export(path, make_district({"source.encoding": declared}).source)
    message = str(info.value)
    assert message.startswith(f"{path}: line 1: not {declared} text: it is UTF-16 text (")
    assert how in message
    assert message.endswith("set source.encoding: utf-16 in the district file")


def test_8bit_export_declared_as_utf16_is_refused(tmp_path):
    path = write_export(tmp_path, _ACCENTED)
    with pytest.raises(InputError, match=r"line 1: not utf-16 text: .*8-bit text.*set source.encoding: utf-8"):
        read_export(path, make_district({"source.encoding": "utf-16"}).source)


@pytest.mark.parametrize(
    ("codec", "declared"),
    [
        ("utf-16", "utf-16"),  # Excel's "Unicode text": a byte-order mark, little-endian
        ("utf-16-le", "utf-16"),  # no mark: the byte order is where the NULs sit
        ("utf-16-be", "utf-16"),
        ("utf-16-le", "utf-16le"),
        ("utf-16-be", "utf-16be"),
        ("utf-16-be", "utf-16le"),  # a wrong byte order declared: the NULs tell
        ("utf-32", "utf-32"),
    ],
)
@pytest.mark.parametrize("eol", ["\r\n", "\n", "\r"])
def test_utf16_and_utf32_exports_are_read(tmp_path, codec, declared, eol):
    rows = [*_ACCENTED, row(STATE_ID="0001004", FIRST_NAME="Ann, Marie"), row(STATE_ID="0001005", GRADE="13")]
    district = make_district({"source.encoding": declared})
    result = validate_rows(tmp_path, rows, district=district, encoding=codec, eol=eol)
    assert reject_set(result) == {(6, "grade", "unknown_grade")}
    assert accepted_values(result, "legal_first_name") == ["Maria", "José", "Maria", "Ann, Marie"]
    assert accepted_values(result, "state_test_number") == ["0001001", "0001002", "0001003", "0001004"]
    assert result.report.rows_read == 5


def test_undecodable_utf16_names_the_line(tmp_path):
    data = csv_text(_ACCENTED).encode("utf-16-le")
    at = data.index("0001003".encode("utf-16-le"))
    data = data[:at] + "\ud800".encode("utf-16-le", "surrogatepass") + data[at + 2 :]  # a lone surrogate, line 4
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_export(path, make_district({"source.encoding": "utf-16"}).source)
    assert str(info.value).startswith(f"{path}: line 4: not valid utf-16 text (")


def test_utf16_vendor_export_is_refused_with_the_vendor_hint(tmp_path):
    from roster.io.export import read_vendor_export

    vendor = make_district().vendor_export
    header = list(vendor.columns.model_dump().values())
    path = tmp_path / "vendor.csv"
    path.write_bytes((vendor.delimiter.join(header) + "\r\n").encode("utf-16"))
    with pytest.raises(
        InputError, match=r"line 1: not utf-8 text: it is UTF-16 text .*; save the vendor export as UTF-8$"
    ):
        read_vendor_export(path, vendor)


# Line endings -------------------------------------------------------------------------------------


@pytest.mark.parametrize("eol", ["\r", "\r\n", "\n"])
def test_every_line_ending_style_is_read(tmp_path, eol):
    rows = [row(STATE_ID="0001001"), row(STATE_ID="0001002", CAMPUS="999"), row(STATE_ID="0001003", MATH_SCORE="")]
    result = validate_rows(tmp_path, rows, eol=eol)
    assert reject_set(result) == {(3, "campus", "unknown_campus")}
    assert accepted_values(result, "math_score") == ["", ""]
    assert accepted_values(result, "state_test_number") == ["0001001", "0001003"]
    assert result.report.rows_read == 3


def test_mixed_line_endings_are_read(tmp_path):
    lines = csv_text([row(STATE_ID=f"000100{n}") for n in range(1, 5)]).split("\n")
    text = lines[0] + "\r" + lines[1] + "\r\n" + lines[2] + "\n" + lines[3] + "\r" + lines[4] + "\r\n"
    result = validate_rows(tmp_path, text=text)
    assert reject_set(result) == set()
    assert accepted_values(result, "state_test_number") == ["0001001", "0001002", "0001003", "0001004"]
    assert result.accepted["row_number"].tolist() == [2, 3, 4, 5]
    assert all("\r" not in value for value in accepted_values(result, "status"))


def test_a_carriage_return_inside_quotes_is_data_in_a_cr_only_file(tmp_path):
    rows = [row(STATE_ID="0001001", FIRST_NAME="Ann\rMarie"), row(STATE_ID="0001002")]
    result = validate_rows(tmp_path, rows, eol="\r")
    assert reject_set(result) == {(2, "legal_first_name", "forbidden_character")}
    assert accepted_values(result, "state_test_number") == ["0001002"]


# Row numbers: a blank line is a row of the spreadsheet, not a student ------------------------------


def _blank_lines_export(quoted: bool, eol: str) -> str:
    lines = [
        ",".join(HEADER),  # row 1
        _raw_line(row(STATE_ID="0001001")),  # row 2
        "",  # row 3
        "",  # row 4
        _raw_line(row(STATE_ID="0001002", GRADE="13")),  # row 5
        "",  # row 6
        _raw_line(row(STATE_ID="0001003"), extra=",surplus"),  # row 7: ragged
        _raw_line(row(STATE_ID="0001004", CAMPUS="999")),  # row 8
    ]
    if quoted:  # a value holding a blank line of its own is one cell: still row 2
        lines[1] = lines[1].replace("Maria", f'"Ma{eol}{eol}ria"')
    return eol.join(lines) + eol


@pytest.mark.parametrize("quoted", [False, True])
@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_blank_lines_count_as_rows_but_not_as_students(tmp_path, quoted, eol):
    result = validate_rows(tmp_path, text=_blank_lines_export(quoted, eol))
    expected = {(5, "grade", "unknown_grade"), (7, "(row)", "ragged_row"), (8, "campus", "unknown_campus")}
    if quoted:
        expected.add((2, "legal_first_name", "forbidden_character"))
    assert reject_set(result) == expected
    assert result.report.rows_read == 4
    assert result.accepted["row_number"].tolist() == ([] if quoted else [2])


def test_blank_lines_are_numbered_alike_in_parallel_pieces(tmp_path, monkeypatch):
    from roster.io import export as reading

    lines = [",".join(HEADER)]
    for n in range(300):
        lines.append(_raw_line(row(STATE_ID=f"{n:07d}", GRADE="13" if n % 41 == 0 else "05")))
        if n % 29 == 0:
            lines.extend([""] * (1 + n % 3))
    path = write_export(tmp_path, text="\r\n".join(lines) + "\r\n")
    expected = [n for n, line in enumerate(lines, start=1) if line][1:]
    monkeypatch.setattr(reading, "SEGMENT_MIN_BYTES", 1)
    monkeypatch.setattr(reading.os, "cpu_count", lambda: 4)
    export = read_export(path, make_district().source)
    assert export.table["row_number"].to_pylist() == expected
    assert export.rows_read == 300


# End-of-file junk: cut off, named in a note ---------------------------------------------------------


@pytest.mark.parametrize(
    ("junk", "note"),
    [
        (b"\x00" * 512, "ignored 512 bytes of end-of-file padding (NUL) after row 4"),
        (b"\x1a", "ignored 1 byte of end-of-file padding (Ctrl-Z) after row 4"),
        (b"  \r\n\t\r\n\r\n", "ignored 9 bytes of end-of-file padding (spaces, tabs) after row 4"),
        (b"\r\n\x1a\x00\x00", "ignored 5 bytes of end-of-file padding (NUL, Ctrl-Z) after row 4"),
    ],
)
def test_end_of_file_junk_is_ignored_with_a_note(tmp_path, junk, note):
    path = write_export(tmp_path, _ACCENTED, eol="\r\n")
    path.write_bytes(path.read_bytes() + junk)
    result = check_export(make_night(), path)
    assert reject_set(result) == set()
    assert result.report.rows_read == 3 and result.report.passed
    assert result.report.notes == [note]
    assert QaReport.from_json(result.report.to_json()).notes == [note]


def test_a_clean_export_has_no_notes_and_an_old_report_still_loads(tmp_path):
    result = validate_rows(tmp_path, _ACCENTED)
    assert result.report.notes == []
    payload = result.report.to_json()
    assert payload["notes"] == []
    del payload["notes"]  # a qa_report.json written before notes existed
    assert QaReport.from_json(payload).notes == []


def test_nul_and_ctrl_z_before_the_last_row_stay_in_the_values(tmp_path):
    rows = [row(STATE_ID="0001001", LAST_NAME="Gonzalez\x00\x00"), row(STATE_ID="0001002", LOCAL_ID="L1\x1a")]
    result = validate_rows(tmp_path, [*rows, row(STATE_ID="0001003")])
    assert reject_set(result) == {
        (2, "legal_last_name", "forbidden_character"),
        (3, "local_student_id", "forbidden_character"),
    }
    assert result.report.notes == []
