"""What the QA email and the nightly summary tell the point person to fix, and which codes they show."""

from __future__ import annotations

from pathlib import Path

import pytest

from roster.notify.advice import Contact, advice_for, contact, date_format_words, state_id_words
from roster.rules.model import MASKED_ID
from roster.rules.offending import MAX_VALUES, OTHERS, looks_like_code
from tests.domain_fixtures import make_district, row, validate_rows


@pytest.mark.parametrize("value", ["13", "KG", "PK", "041", "HS1", "AUT", "W", "999", "G-3", "SPED_1"])
def test_codes_are_shown(value: str) -> None:
    assert looks_like_code(value, "%m/%d/%Y")


@pytest.mark.parametrize(
    "value",
    [
        "03/14/2015",  # a birth date under the wrong header
        "2015-03-14",
        "20150314",  # eight digits that are a date
        "03142015",
        "Garcia",  # a surname: letters only, longer than 4
        "Maria Jose",  # spaces
        "José",  # not ASCII
        "ABCDEFGHIJKLM1",  # longer than a code
        "",
    ],
)
def test_values_that_may_be_student_data_are_not_shown(value: str) -> None:
    assert not looks_like_code(value, "%m/%d/%Y")


def test_offending_values_count_rows_per_code_and_mask_the_rest(tmp_path: Path) -> None:
    rows = [row(STATE_ID=f"00012{i:02d}", GRADE="13") for i in range(3)]
    rows += [row(STATE_ID="0001300", GRADE="03/14/2015"), row(STATE_ID="0001301", GRADE="Garcia")]
    rows += [row(STATE_ID="0001302", CAMPUS="999"), row(STATE_ID="0001303", STATUS="W")]
    result = validate_rows(tmp_path, rows)
    assert result.report.offending_values == {
        "unknown_grade": {"13": 3, MASKED_ID: 2},
        "unknown_campus": {"999": 1},
        "unknown_status": {"W": 1},
    }


def test_offending_values_are_capped(tmp_path: Path) -> None:
    extra = 5
    rows = [row(STATE_ID=f"000{i:04d}", GRADE=f"G{i:02d}") for i in range(MAX_VALUES + extra)]
    rows.append(row(STATE_ID="0009999", GRADE="G00"))  # G00 twice: first, above the single ones
    shown = validate_rows(tmp_path, rows).report.offending_values["unknown_grade"]
    assert next(iter(shown)) == "G00" and shown["G00"] == 2
    assert len(shown) == MAX_VALUES + 1 and shown[OTHERS] == extra
    assert sum(shown.values()) == len(rows)


def test_advice_gives_formats_codes_and_tables(tmp_path: Path) -> None:
    district = make_district({"source.date_format": "%Y-%m-%d"})
    rows = [row(STATE_ID="0001201", GRADE="13", DOB="2015-03-14"), row(STATE_ID="0001202", DOB="3/14/15")]
    result = validate_rows(tmp_path, rows, district=district)
    rejects = [
        {"row_number": 3, "state_test_number": "0001202", "field": "date_of_birth", "reason": "bad_date_of_birth"}
    ]
    by_code = {a.code: a for a in advice_for(district, result.report, rejects)}
    assert set(by_code) == {"unknown_grade", "bad_date_of_birth"}
    assert by_code["unknown_grade"].values == {"13": 1}
    assert by_code["unknown_grade"].table == "crossmatch/sample_isd/grades.csv"
    assert by_code["unknown_grade"].field == "grade"  # from the reason when rejects.csv does not say
    assert by_code["bad_date_of_birth"].expected == "dates written YYYY-MM-DD, such as 2014-01-31"
    assert by_code["bad_date_of_birth"].values == {} and by_code["bad_date_of_birth"].table == ""


def test_words_for_formats() -> None:
    assert date_format_words("%m/%d/%Y") == "MM/DD/YYYY, such as 01/31/2014"
    assert date_format_words("%d.%m.%y") == "DD.MM.YY, such as 31.01.14"
    assert state_id_words("^[0-9]{10}$") == "the district's State Test Number pattern ^[0-9]{10}$"
    assert "4 to 20 letters or digits" in state_id_words("^[0-9A-Za-z]{4,20}$")


def test_contact_is_the_coordinator_else_oncall() -> None:
    assert contact(make_district()) == Contact(("coordinator@example.org",))
    assert contact(make_district({"contacts.coordinator": []})) == Contact(("data-oncall@example.org",))
    assert contact(make_district({"contacts.coordinator": [], "contacts.oncall": []})) is None


def test_the_coordinator_by_name() -> None:
    named = contact(make_district({"contacts.coordinator_name": "Jane Doe"}))
    assert named is not None
    assert named == Contact(("coordinator@example.org",), "Jane Doe")
    assert named.text == "Jane Doe (coordinator@example.org)"
    assert Contact(("a@example.org", "b@example.org"), "Jane Doe").text == "Jane Doe (a@example.org, b@example.org)"
    assert Contact(("a@example.org", "b@example.org")).text == "a@example.org, b@example.org"
