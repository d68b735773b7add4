"""Row rules (one reason code each), the rejects' shape, and the QA verdict."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from domain_fixtures import (
    CONTRACT_REPORT_KEYS,
    HEADER,
    ROSTER_DATE,
    accepted_values,
    make_district,
    make_night,
    reject_set,
    row,
    validate_rows,
)
from roster.night.qa import QaReport, judge
from roster.rules import checks
from roster.rules.catalog import REASONS
from roster.rules.model import MASKED_ID, REJECT_COLUMNS, find_rejects, shown_ids


def test_good_row_is_accepted(tmp_path):
    result = validate_rows(tmp_path, [row()])
    assert reject_set(result) == set()
    assert list(result.rejects.columns) == REJECT_COLUMNS
    assert result.accepted["row_number"].tolist() == [2]
    assert result.report.passed is True
    assert result.report.rows_read == 1
    assert result.report.rows_rejected == 0
    assert result.report.rejects_by_reason == {}


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"STATE_ID": ""}, "state_test_number", "missing_state_id"),
        ({"STATE_ID": "   "}, "state_test_number", "missing_state_id"),
        ({"STATE_ID": "12-34"}, "state_test_number", "bad_state_id"),
        ({"STATE_ID": "123"}, "state_test_number", "bad_state_id"),
        ({"STATE_ID": "1" * 21}, "state_test_number", "bad_state_id"),
        ({"STATE_ID": "1234 5678"}, "state_test_number", "bad_state_id"),
        ({"FIRST_NAME": ""}, "legal_first_name", "missing_first_name"),
        ({"FIRST_NAME": "  "}, "legal_first_name", "missing_first_name"),
        ({"LAST_NAME": ""}, "legal_last_name", "missing_last_name"),
        ({"DOB": ""}, "date_of_birth", "missing_date_of_birth"),
        ({"DOB": "02/30/2012"}, "date_of_birth", "bad_date_of_birth"),
        ({"DOB": "13/01/2012"}, "date_of_birth", "bad_date_of_birth"),
        ({"DOB": "2012-03-01"}, "date_of_birth", "bad_date_of_birth"),
        ({"DOB": "03/01/12"}, "date_of_birth", "bad_date_of_birth"),
        ({"DOB": "03/01/2012 00:00"}, "date_of_birth", "bad_date_of_birth"),
        ({"DOB": "unknown"}, "date_of_birth", "bad_date_of_birth"),
        ({"DOB": "01/15/1990"}, "date_of_birth", "age_out_of_range"),
        ({"DOB": "11/20/2026"}, "date_of_birth", "age_out_of_range"),
        ({"DOB": "01/01/2030"}, "date_of_birth", "age_out_of_range"),
        ({"GRADE": "13"}, "grade", "unknown_grade"),
        ({"GRADE": "5"}, "grade", "unknown_grade"),  # the table says 05
        ({"GRADE": "kg"}, "grade", "unknown_grade"),
        ({"GRADE": ""}, "grade", "unknown_grade"),
        ({"CAMPUS": "999"}, "campus", "unknown_campus"),
        ({"CAMPUS": ""}, "campus", "unknown_campus"),
        ({"CAMPUS": "SISD-EL-101"}, "campus", "unknown_campus"),  # a Rethink code is not a district code
        ({"DIAGNOSIS": "XX"}, "diagnosis", "unknown_diagnosis"),
        ({"DIAGNOSIS": "au"}, "diagnosis", "unknown_diagnosis"),
        ({"STATUS": "W"}, "status", "unknown_status"),
        ({"STATUS": "a"}, "status", "unknown_status"),
        ({"STATUS": ""}, "status", "unknown_status"),
        ({"STATUS": "Active"}, "status", "unknown_status"),
        ({"ELA_SCORE": "n/a"}, "ela_score", "bad_score"),
        ({"ELA_SCORE": "12,5"}, "ela_score", "bad_score"),
        ({"MATH_SCORE": "abc"}, "math_score", "bad_score"),
        ({"LAST_NAME": "Smith|Jones"}, "legal_last_name", "forbidden_character"),
        ({"FIRST_NAME": "Ann\tMarie"}, "legal_first_name", "forbidden_character"),
        ({"FIRST_NAME": "Ann\nMarie"}, "legal_first_name", "forbidden_character"),
        ({"FIRST_NAME": "Ann\rMarie"}, "legal_first_name", "forbidden_character"),
        ({"FIRST_NAME": "Ann\r\nMarie"}, "legal_first_name", "forbidden_character"),
        ({"FIRST_NAME": "Ann\t"}, "legal_first_name", "forbidden_character"),  # only spaces are trimmed
        ({"MIDDLE_NAME": "Lee\x0b"}, "legal_middle_name", "forbidden_character"),
        ({"LAST_NAME": "Smith\x1b[0m"}, "legal_last_name", "forbidden_character"),
        ({"LAST_NAME": "Smith\x7f"}, "legal_last_name", "forbidden_character"),
        ({"LAST_NAME": "Smith\x00"}, "legal_last_name", "forbidden_character"),
        ({"LAST_NAME": "Smi\x85th"}, "legal_last_name", "forbidden_character"),  # C1 control (NEL)
        ({"LAST_NAME": "O\x92Brien"}, "legal_last_name", "forbidden_character"),  # cp1252 quote read as latin-1
        ({"LOCAL_ID": "L1|2"}, "local_student_id", "forbidden_character"),
        ({"GENDER": "F\n"}, "gender", "forbidden_character"),
        # Line breaks to many readers, and text-direction controls (they reorder what is shown).
        ({"LAST_NAME": "Smith\u2028Jones"}, "legal_last_name", "forbidden_character"),  # LINE SEPARATOR
        ({"FIRST_NAME": "Ann\u2029"}, "legal_first_name", "forbidden_character"),  # PARAGRAPH SEPARATOR
        ({"LAST_NAME": "Smith\u200e"}, "legal_last_name", "forbidden_character"),  # LRM
        ({"LAST_NAME": "\u200fSmith"}, "legal_last_name", "forbidden_character"),  # RLM
        ({"LAST_NAME": "Smith\u061c"}, "legal_last_name", "forbidden_character"),  # ALM
        ({"LAST_NAME": "\u202aSmith"}, "legal_last_name", "forbidden_character"),  # LRE
        ({"MIDDLE_NAME": "Lee\u202e"}, "legal_middle_name", "forbidden_character"),  # RLO
        ({"LAST_NAME": "\u2066Smith\u2069"}, "legal_last_name", "forbidden_character"),  # LRI ... PDI
        ({"LOCAL_ID": "L1\u2067"}, "local_student_id", "forbidden_character"),  # RLI
        # A leading double quote: a CSV reader of the unquoted pipe file swallows the next lines.
        ({"LAST_NAME": '"Smith'}, "legal_last_name", "forbidden_character"),
        ({"FIRST_NAME": '"Ann"'}, "legal_first_name", "forbidden_character"),
        ({"LOCAL_ID": '"L1'}, "local_student_id", "forbidden_character"),
        # Invisible only is missing.
        ({"LAST_NAME": "\u00a0"}, "legal_last_name", "missing_last_name"),  # no-break space
        ({"LAST_NAME": "\u200b"}, "legal_last_name", "missing_last_name"),  # zero-width space
        ({"LAST_NAME": "\u00a0\u200b \u3000"}, "legal_last_name", "missing_last_name"),
        ({"LAST_NAME": "\ufeff"}, "legal_last_name", "missing_last_name"),  # byte-order mark
        ({"LAST_NAME": "\u2060\u200c\u200d"}, "legal_last_name", "missing_last_name"),  # WJ, ZWNJ, ZWJ
        ({"LAST_NAME": "\u2002\u2007\u202f\u205f"}, "legal_last_name", "missing_last_name"),  # other spaces
        ({"FIRST_NAME": "\u00a0"}, "legal_first_name", "missing_first_name"),
        ({"FIRST_NAME": "\u3164"}, "legal_first_name", "missing_first_name"),  # Hangul filler
        ({"DOB": "\u00a0"}, "date_of_birth", "missing_date_of_birth"),
        ({"STATE_ID": "\u200b"}, "state_test_number", "missing_state_id"),
        # Finite numbers only.
        ({"ELA_SCORE": "inf"}, "ela_score", "bad_score"),
        ({"ELA_SCORE": "-inf"}, "ela_score", "bad_score"),
        ({"ELA_SCORE": "Infinity"}, "ela_score", "bad_score"),
        ({"MATH_SCORE": "nan"}, "math_score", "bad_score"),
        ({"MATH_SCORE": "NaN"}, "math_score", "bad_score"),
        ({"MATH_SCORE": "1e999"}, "math_score", "bad_score"),  # overflows to infinity
        ({"ELA_SCORE": "1,234"}, "ela_score", "bad_score"),  # a thousands separator
        ({"ELA_SCORE": "1 234"}, "ela_score", "bad_score"),
        ({"ELA_SCORE": "0x10"}, "ela_score", "bad_score"),
        ({"ELA_SCORE": "\uff12\uff15\uff10"}, "ela_score", "bad_score"),  # fullwidth digits
        # Spreadsheet formulas in names.
        ({"LAST_NAME": '=HYPERLINK("http://x.example","Smith")'}, "legal_last_name", "formula_value"),
        ({"FIRST_NAME": "@SUM(A1:A9)"}, "legal_first_name", "formula_value"),
        ({"FIRST_NAME": "+1"}, "legal_first_name", "formula_value"),
        ({"MIDDLE_NAME": "-2"}, "legal_middle_name", "formula_value"),
        ({"LAST_NAME": "=1+1"}, "legal_last_name", "formula_value"),
        # Mojibake: UTF-8 names once decoded as cp1252 or Latin-1.
        ({"FIRST_NAME": "JosÃ©"}, "legal_first_name", "mojibake"),
        ({"FIRST_NAME": "MarÃ­a"}, "legal_first_name", "mojibake"),  # í: Ã and a soft hyphen
        ({"LAST_NAME": "PeÃ±a"}, "legal_last_name", "mojibake"),
        ({"LAST_NAME": "Oâ€™Brien"}, "legal_last_name", "mojibake"),  # U+2019 (a right quote), three bytes
        ({"MIDDLE_NAME": "Ã‰milie"}, "legal_middle_name", "mojibake"),  # É
        ({"LAST_NAME": "Å\u00a0imek"}, "legal_last_name", "mojibake"),  # Š: Å and a no-break space
        ({"LAST_NAME": "JosÃƒÂ©"}, "legal_last_name", "mojibake"),  # garbled twice
        ({"LAST_NAME": "Peña JosÃ©"}, "legal_last_name", "mojibake"),  # one name garbled beside a good one
        ({"FIRST_NAME": "ðŸ˜€"}, "legal_first_name", "mojibake"),  # four bytes (an emoji)
    ],
)
def test_rule(tmp_path, changes, field, reason):
    """One broken value gives exactly one reject: the right row, field and reason code."""
    rows = [row(STATE_ID="0009999"), row(**changes)]
    if "STATE_ID" not in changes:
        rows[1]["STATE_ID"] = "0001234"
    result = validate_rows(tmp_path, rows)
    assert reason in REASONS
    assert reject_set(result) == {(3, field, reason)}
    assert result.accepted["row_number"].tolist() == [2]
    assert result.report.rows_rejected == 1
    assert result.report.rejects_by_reason == {reason: 1}


def test_reject_carries_the_state_test_number(tmp_path):
    result = validate_rows(tmp_path, [row(STATE_ID="0004321", GRADE="13")])
    assert result.rejects.to_dict("records") == [
        {"row_number": 2, "state_test_number": "0004321", "field": "grade", "reason": "unknown_grade"}
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"DIAGNOSIS": ""},
        {"DIAGNOSIS": "AU"},
        {"DIAGNOSIS": "OHI"},
        {"ELA_SCORE": ""},
        {"ELA_SCORE": "12.5", "MATH_SCORE": "0"},
        {"MATH_SCORE": "-3"},
        {"STATUS": "I"},
        {"GRADE": "KG", "CAMPUS": "101", "DOB": "01/31/2021"},
        {"GRADE": "PK", "CAMPUS": "101"},
        {"MIDDLE_NAME": "", "LOCAL_ID": "", "GENDER": ""},  # optional fields may be empty
        {"LAST_NAME": "O'Brien-Smith", "FIRST_NAME": "Zoë Ann"},
        {"STATE_ID": "AB12cd34"},
        {"STATE_ID": "1234"},
        {"STATE_ID": "1" * 20},
        {"DOB": "2/29/2012"},  # leap day, single-digit month
        {"LAST_NAME": 'Smith "Jr"', "FIRST_NAME": "Ann\u00a0Marie"},  # an inner quote, a no-break space inside
        {"LAST_NAME": "\u00a0Smith", "FIRST_NAME": "\u200bAnn"},  # invisible, but not only invisible
        {"ELA_SCORE": "1e3", "MATH_SCORE": "+5"},
        {"ELA_SCORE": ".5", "MATH_SCORE": "5."},
        {"ELA_SCORE": "-0", "MATH_SCORE": "250"},
        {"LAST_NAME": "Smith-Jones", "FIRST_NAME": "Jean-Luc", "MIDDLE_NAME": "A+"},  # inner - and +
        {"LOCAL_ID": "-L1"},  # the formula rule is on names only
        {"FIRST_NAME": "José", "LAST_NAME": "Ñúñez", "MIDDLE_NAME": "Zoë"},
        {"FIRST_NAME": "João", "LAST_NAME": "Conceição"},  # ã, ç: Latin letters that are also lead bytes
        {"FIRST_NAME": "François", "LAST_NAME": "Müller-Lüdenscheidt"},
        {"FIRST_NAME": "Bjørn", "LAST_NAME": "Đặng"},
        {"FIRST_NAME": "Ángel", "LAST_NAME": "Ó Briain"},
        {"LAST_NAME": "Ã"},  # an Ã alone (nothing after it to be garbled)
    ],
)
def test_values_that_pass(tmp_path, changes):
    result = validate_rows(tmp_path, [row(**changes)])
    assert reject_set(result) == set()
    assert len(result.accepted) == 1


@pytest.mark.parametrize(
    ("dob", "accepted"),
    [
        ("11/20/2024", True),  # exactly 2 on the roster date
        ("11/21/2024", False),  # the day before the 2nd birthday
        ("11/19/2024", True),
        ("11/20/2004", True),  # exactly 22
        ("11/21/2003", True),  # the day before the 23rd birthday: still 22
        ("11/20/2003", False),  # the 23rd birthday
        ("11/19/2003", False),
        ("02/29/2004", True),  # leap-day birthday, 22 on 2026-11-20
    ],
)
def test_age_bounds_on_the_roster_date(tmp_path, dob, accepted):
    result = validate_rows(tmp_path, [row(DOB=dob)], roster_date=dt.date(2026, 11, 20))
    if accepted:
        assert reject_set(result) == set()
    else:
        assert reject_set(result) == {(2, "date_of_birth", "age_out_of_range")}


def test_age_uses_the_roster_date_not_today(tmp_path):
    young = row(DOB="11/21/2024")
    assert reject_set(validate_rows(tmp_path, [young], roster_date=dt.date(2026, 11, 20))) == {
        (2, "date_of_birth", "age_out_of_range")
    }
    assert reject_set(validate_rows(tmp_path, [young], roster_date=dt.date(2026, 11, 21))) == set()


def test_age_in_the_districts_date_format(tmp_path):
    district = make_district({"source.date_format": "%Y-%m-%d"})
    rows = [
        row(STATE_ID="0001001", DOB="2024-11-20"),
        row(STATE_ID="0001002", DOB="2024-11-21"),
        row(STATE_ID="0001003", DOB="11/20/2015"),
    ]
    result = validate_rows(tmp_path, rows, district=district)
    assert reject_set(result) == {(3, "date_of_birth", "age_out_of_range"), (4, "date_of_birth", "bad_date_of_birth")}


def test_every_row_of_a_duplicated_id_is_rejected(tmp_path):
    rows = [
        row(STATE_ID="0001001"),
        row(STATE_ID="0001002"),
        row(STATE_ID="0001001", FIRST_NAME="Other"),
        row(STATE_ID="0001003"),
        row(STATE_ID="0001001"),
    ]
    result = validate_rows(tmp_path, rows)
    assert reject_set(result) == {
        (2, "state_test_number", "duplicate_state_id"),
        (4, "state_test_number", "duplicate_state_id"),
        (6, "state_test_number", "duplicate_state_id"),
    }
    assert accepted_values(result, "state_test_number") == ["0001002", "0001003"]
    assert result.report.rejects_by_reason == {"duplicate_state_id": 3}


def test_ids_that_differ_only_after_trimming_are_duplicates(tmp_path):
    result = validate_rows(tmp_path, [row(STATE_ID="0001001"), row(STATE_ID=" 0001001 ")])
    assert reject_set(result) == {
        (2, "state_test_number", "duplicate_state_id"),
        (3, "state_test_number", "duplicate_state_id"),
    }


def test_leading_zeros_make_ids_different(tmp_path):
    result = validate_rows(tmp_path, [row(STATE_ID="0001234"), row(STATE_ID="1234")])
    assert reject_set(result) == set()
    assert accepted_values(result, "state_test_number") == ["0001234", "1234"]


def test_empty_ids_are_missing_not_duplicates(tmp_path):
    rows = [row(STATE_ID=""), row(STATE_ID="0001002"), row(STATE_ID="")]
    result = validate_rows(tmp_path, rows)
    assert reject_set(result) == {
        (2, "state_test_number", "missing_state_id"),
        (4, "state_test_number", "missing_state_id"),
    }
    assert result.report.rejects_by_reason == {"missing_state_id": 2}


def test_a_row_with_several_faults_is_one_rejected_row(tmp_path):
    rows = [row(STATE_ID="0001001", GRADE="13", CAMPUS="999", STATUS="W"), row(STATE_ID="0001002")]
    result = validate_rows(tmp_path, rows)
    assert reject_set(result) == {
        (2, "campus", "unknown_campus"),
        (2, "grade", "unknown_grade"),
        (2, "status", "unknown_status"),
    }
    assert result.rejects["field"].tolist() == ["campus", "grade", "status"]  # sorted by row, field
    assert result.report.rows_rejected == 1
    assert result.report.rows_read == 2
    assert result.report.rejects_by_reason == {"unknown_campus": 1, "unknown_grade": 1, "unknown_status": 1}


def test_pipe_in_a_coded_value_is_forbidden_and_unknown(tmp_path):
    result = validate_rows(tmp_path, [row(GRADE="05|06")])
    assert reject_set(result) == {(2, "grade", "forbidden_character"), (2, "grade", "unknown_grade")}


def test_missing_and_bad_dob_are_not_also_out_of_range(tmp_path):
    rows = [row(STATE_ID="0001001", DOB=""), row(STATE_ID="0001002", DOB="02/30/2012")]
    result = validate_rows(tmp_path, rows)
    assert reject_set(result) == {
        (2, "date_of_birth", "missing_date_of_birth"),
        (3, "date_of_birth", "bad_date_of_birth"),
    }


def test_status_values_come_from_the_district(tmp_path):
    district = make_district({"source.status_values": {"active": ["Enrolled"], "inactive": ["Withdrawn", "W"]}})
    rows = [
        row(STATE_ID="0001001", STATUS="Enrolled"),
        row(STATE_ID="0001002", STATUS="W"),
        row(STATE_ID="0001003", STATUS="A"),
    ]
    result = validate_rows(tmp_path, rows, district=district)
    assert reject_set(result) == {(4, "status", "unknown_status")}


def test_state_id_pattern_comes_from_the_district(tmp_path):
    district = make_district({"source.state_id_pattern": r"^S\d{6}$"})
    rows = [row(STATE_ID="S123456"), row(STATE_ID="0001234"), row(STATE_ID="S1234567")]
    result = validate_rows(tmp_path, rows, district=district)
    assert reject_set(result) == {(3, "state_test_number", "bad_state_id"), (4, "state_test_number", "bad_state_id")}


def test_entry_and_exit_dates_when_mapped(tmp_path):
    columns = {
        **make_district().source.columns.model_dump(exclude_none=True),
        "entry_date": "ENTRY",
        "exit_date": "EXIT",
    }
    district = make_district({"source.columns": columns})
    header = [*HEADER, "ENTRY", "EXIT"]
    rows = [
        {**row(STATE_ID="0001001"), "ENTRY": "08/15/2026", "EXIT": ""},
        {**row(STATE_ID="0001002"), "ENTRY": "08/32/2026", "EXIT": ""},
        {**row(STATE_ID="0001003"), "ENTRY": "", "EXIT": "2026-06-01"},
    ]
    result = validate_rows(tmp_path, rows, district=district, header=header)
    assert reject_set(result) == {(3, "entry_date", "bad_date"), (4, "exit_date", "bad_date")}


def test_unmapped_optional_columns_are_not_checked(tmp_path):
    columns = make_district().source.columns.model_dump(exclude_none=True)
    for optional in ("diagnosis", "ela_score", "math_score", "legal_middle_name", "local_student_id", "gender"):
        del columns[optional]
    district = make_district({"source.columns": columns})
    result = validate_rows(tmp_path, [row(DIAGNOSIS="XX", ELA_SCORE="n/a", MIDDLE_NAME="A|B")], district=district)
    assert reject_set(result) == set()
    assert "diagnosis" not in result.accepted.columns


def test_rejects_hold_no_names_or_birth_dates(tmp_path):
    rows = [row(STATE_ID="0001001", FIRST_NAME="Bartholomew", LAST_NAME="Zebulon|X", DOB="02/30/2012")]
    result = validate_rows(tmp_path, rows)
    assert list(result.rejects.columns) == REJECT_COLUMNS
    text = result.rejects.to_csv(index=False)
    for value in ("Bartholomew", "Zebulon", "02/30/2012"):
        assert value not in text


def test_mojibake_of_a_c1_letter_is_both_garbled_and_forbidden(tmp_path):
    """Á (0xC3 0x81) through Latin-1 is Ã and a C1 control: both reasons, one rejected row."""
    result = validate_rows(tmp_path, [row(LAST_NAME="Ã\x81lvarez")])
    assert reject_set(result) == {(2, "legal_last_name", "mojibake"), (2, "legal_last_name", "forbidden_character")}


def test_the_closer_looks_agree_with_python_on_a_chunked_column(monkeypatch):
    """``present`` and ``not_mojibake`` look again only at the values a byte scan flags, gathered
    in steps (a chunked result past ``TAKE_STEP``): their verdicts are a per-value Python test's."""
    import random
    import unicodedata

    from roster.fast import arrow as arrowkit

    monkeypatch.setattr(arrowkit, "TAKE_STEP", 8)
    rng = random.Random(13)
    alphabet = ["a", " ", "\u00a0", "\u200b", "\ufeff", "\t", "é", "Ã", "©", "\u00ad", "€", "™", "â", "\u3000"]
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3))) for _ in range(3000)]
    column = pa.chunked_array([pa.array(values[i : i + 700], pa.large_string()) for i in range(0, 3000, 700)])

    def visible(value: str) -> bool:
        return any(not (c.isspace() or unicodedata.category(c) in ("Cf", "Cc", "Zs")) for c in value)

    def garbled(value: str) -> bool:
        table = {**{chr(b): b for b in range(256)}, **{bytes([b]).decode("cp1252", "ignore"): b for b in range(256)}}
        for start in range(len(value)):
            for width in (2, 3):
                try:
                    decoded = bytes(table[c] for c in value[start : start + width]).decode("utf-8")
                except (KeyError, UnicodeDecodeError):
                    continue
                if len(value[start : start + width]) == width and len(decoded) == 1:
                    return True
        return False

    present, clean = checks.present(column), checks.not_mojibake(column)
    assert present.tolist() == [visible(v) for v in values]
    assert clean.tolist() == [not garbled(v) for v in values]
    assert 0 < (~present).sum() < len(values) and 20 < (~clean).sum() < len(values)  # both verdicts, past TAKE_STEP


# The rejects' State Test Numbers: shown only when clearly an id ------------------------------------


def _shown(values: list[str], district=None) -> list[str]:
    return list(shown_ids(pa.chunked_array([pa.array(values, pa.large_string())]), make_night(district).rules))


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("0001234", True),
        ("AB12cd34", True),  # matches the pattern
        ("1.23E+09", True),  # Excel's: only letters, digits and . + - _
        ("12-34", True),
        ("L_0001234", True),
        ("20150314", True),  # eight digits, but they match the pattern (and are no %m/%d/%Y date)
        ("", True),  # empty stays empty
        ("03/14/2015", False),  # a date of birth (the district's date format)
        ("3/14/2015", False),
        ("2015-03-14", False),  # date-shaped
        ("14.03.2015", False),
        ("DOB 03-14-15", False),
        ("14-Mar-2015", False),  # only letters, digits and -, but a date
        ("14MAR2015", False),
        ("2015-mar-14", False),
        ("Mar-14-2015", False),
        ("MAR1234", True),  # a month's letters, but no date
        ("Gonzalez", False),  # no digit: a name
        ("Maria Gonzalez", False),
        ("\u00a0", False),
        ("12 34", False),  # a space: neither the pattern nor the id characters
        ("=1+2", False),
        ("O'Brien7", False),
    ],
)
def test_a_state_id_is_shown_only_when_clearly_an_id(value, shown):
    assert _shown([value]) == [value if shown else MASKED_ID]


def test_eight_digits_failing_the_pattern_are_masked_when_they_are_a_real_date():
    district = make_district({"source.state_id_pattern": "^[0-9]{10}$"})
    values = ["20150314", "03142015", "31122015", "12345678", "99999999", "0004001029"]
    assert _shown(values, district) == [MASKED_ID, MASKED_ID, MASKED_ID, "12345678", "99999999", "0004001029"]


def test_an_id_that_is_a_date_in_the_districts_format_is_masked():
    district = make_district({"source.date_format": "%Y%m%d"})
    assert _shown(["20150314", "20151399", "0001234"], district) == [MASKED_ID, "20151399", "0001234"]


def test_the_mask_is_one_token_that_no_shown_id_can_be():
    masked = _shown(["03/14/2015", "01/01/2001", "Zebulonqx", "x" * 50])
    assert masked == [MASKED_ID] * 4
    assert _shown([MASKED_ID]) == [MASKED_ID] and not any(c.isdigit() for c in MASKED_ID)


def test_swapped_state_id_and_birth_date_headers_leak_no_birth_date(tmp_path):
    """The SIS report edited so the STATE_ID and DOB headers are swapped: every row is rejected, and
    no date of birth is in the rejects (they would be the State Test Numbers)."""
    births = ["03/14/2015", "11/02/2013", "1/5/2016", "07/30/2012"]
    # The values under each swapped header: the STATE_ID column holds the birth dates, and DOB the ids.
    rows = [row(STATE_ID=born, DOB=f"000{n}234") for n, born in enumerate(births)]
    result = validate_rows(tmp_path, rows)
    assert result.report.passed is False and result.report.rows_rejected == len(births)
    assert set(result.rejects["reason"]) == {"bad_state_id", "bad_date_of_birth"}
    text = result.rejects.to_csv(index=False)
    for born in births:
        assert born not in text
    assert set(result.rejects["state_test_number"]) == {MASKED_ID}


def test_a_reject_with_a_good_id_still_names_it(tmp_path):
    rows = [row(STATE_ID="0001001", GRADE="13"), row(STATE_ID="03/14/2015"), row(STATE_ID="")]
    result = validate_rows(tmp_path, rows)
    assert sorted(zip(result.rejects["row_number"], result.rejects["state_test_number"], strict=True)) == [
        (2, "0001001"),
        (3, MASKED_ID),
        (4, ""),
    ]


def test_a_missing_required_column_is_a_reading_bug_not_bad_data():
    frame = pd.DataFrame({"row_number": pd.Series([2], dtype="int64"), "state_test_number": ["0001234"]})
    with pytest.raises(RuntimeError, match="legal_first_name"):
        find_rejects(frame, make_night().rules)


def test_find_rejects_on_a_clean_frame_is_empty_with_the_columns():
    frame = pd.DataFrame(
        {
            "row_number": pd.Series([2], dtype="int64"),
            "state_test_number": ["0001234"],
            "legal_first_name": ["Ann"],
            "legal_last_name": ["Lee"],
            "date_of_birth": ["03/14/2015"],
            "grade": ["05"],
            "campus": ["102"],
            "status": ["A"],
        }
    )
    rejects = find_rejects(frame, make_night().rules)
    assert rejects.empty
    assert list(rejects.columns) == REJECT_COLUMNS
    assert str(rejects["row_number"].dtype) == "int64"


# QA verdict ----------------------------------------------------------------------------------------


def _judge(
    rows_read: int, rows_rejected: int, max_reject_rate: float = 0.02, reasons: dict[str, int] | None = None
) -> QaReport:
    return judge(
        district_id="sample_isd",
        roster_date=ROSTER_DATE,
        rows_read=rows_read,
        rows_rejected=rows_rejected,
        rejects_by_reason=reasons or {},
        max_reject_rate=max_reject_rate,
        source_file="roster_20261120.csv",
        output_file="sample_isd_roster_20261120.txt",
    )


@pytest.mark.parametrize(
    ("rows_read", "rows_rejected", "rate", "passed"),
    [
        (100, 2, 0.02, True),  # exactly at the limit
        (100, 3, 0.02, False),  # one more
        (300, 15, 0.05, True),
        (300, 16, 0.05, False),
        (50, 0, 0.0, True),
        (50, 1, 0.0, False),
        (10, 7, 0.7, True),
        (10, 8, 0.7, False),
        (1000, 20, 0.02, True),
        (1000, 21, 0.02, False),
    ],
)
def test_judge_at_and_beyond_the_limit(rows_read, rows_rejected, rate, passed):
    report = _judge(rows_read, rows_rejected, rate)
    assert report.passed is passed
    assert report.rows_read == rows_read
    assert report.rows_rejected == rows_rejected
    assert report.rows_accepted == rows_read - rows_rejected
    if passed:
        assert report.rows_delivered == rows_read - rows_rejected
        assert report.output_file == "sample_isd_roster_20261120.txt"
        assert "within the limit" in report.verdict
    else:
        assert report.rows_delivered == 0
        assert report.output_file is None
        assert "above the limit" in report.verdict


def test_judge_fails_when_no_rows_are_left():
    report = _judge(5, 5, max_reject_rate=1.0)
    assert report.passed is False
    assert report.rows_delivered == 0
    assert report.verdict == "no student rows left to deliver"


def test_judge_fails_on_an_empty_export():
    report = _judge(0, 0, max_reject_rate=1.0)
    assert report.passed is False
    assert report.verdict == "the export holds no student rows"


def test_report_json_has_the_documented_keys():
    report = _judge(100, 2, reasons={"unknown_grade": 1, "bad_score": 1})
    payload = report.to_json()
    assert set(payload) >= CONTRACT_REPORT_KEYS
    assert payload["district_id"] == "sample_isd"
    assert payload["date"] == "2026-11-20"
    assert list(payload["rejects_by_reason"]) == ["bad_score", "unknown_grade"]
    assert "held" not in payload and "changes" not in payload
    assert QaReport.from_json(payload) == report


def test_report_later_keys_round_trip():
    report = QaReport.from_json({**_judge(10, 0).to_json(), "held": True})
    assert report.held is True
    assert report.to_json()["held"] is True


def test_validate_judges_with_the_districts_rate(tmp_path):
    rows = [row(STATE_ID=f"{n:07d}") for n in range(1, 51)]
    rows[10]["GRADE"] = "13"
    strict = make_district({"qa.max_reject_rate": 0.01})
    lenient = make_district({"qa.max_reject_rate": 0.02})
    assert validate_rows(tmp_path, rows, district=strict).report.passed is False
    assert validate_rows(tmp_path, rows, district=lenient).report.passed is True
