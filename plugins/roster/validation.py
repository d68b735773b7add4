"""Row rules for a night's export, as a pandera ``DataFrameModel``.

Each check is named by the reason code a rejected row gets, and every check is vectorized (one call
per column, never per value). Rules that depend on the district and the night (the State Test Number
pattern, date format, age on the roster date, status words, cross-match codes) are added to the
model's schema by ``build_schema``; the rules that hold for every district live on the model itself.

Empty cells are empty strings, never nulls: a missing value is a reason code, not a dtype error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from roster.config import District
from roster.crossmatch import CrossMatch
from roster.dates import age_on, parse_dates

MIN_AGE, MAX_AGE = 2, 22

#: A pipe breaks the vendor's columns, CR/LF its rows; other control characters corrupt names.
#: C1 controls (U+0080-U+009F, NEL among them) are included: a cp1252 export read as latin-1 gives them.
FORBIDDEN = r"[|\x00-\x1f\x7f-\x9f]"

#: reason code -> what the point person should do about it (used in reports and emails).
REASONS: dict[str, str] = {
    "missing_state_id": "Enter the student's State Test Number in the SIS.",
    "bad_state_id": "Correct the State Test Number in the SIS; it does not have the state's format.",
    "duplicate_state_id": "Two or more rows share this State Test Number; fix the SIS so each student has their own.",
    "missing_first_name": "Enter the student's legal first name in the SIS.",
    "missing_last_name": "Enter the student's legal last name in the SIS.",
    "missing_date_of_birth": "Enter the student's date of birth in the SIS.",
    "bad_date_of_birth": "Correct the date of birth in the SIS; it is not a date in the export's date format.",
    "age_out_of_range": f"Check the date of birth in the SIS; it gives an age outside {MIN_AGE}-{MAX_AGE} years.",
    "unknown_grade": "Add the grade code to the grades cross-match table, or correct it in the SIS.",
    "unknown_campus": "Add the campus code to the campuses cross-match table, or correct it in the SIS.",
    "unknown_diagnosis": "Add the diagnosis code to the diagnoses cross-match table, or correct it in the SIS.",
    "unknown_status": "Set the enrollment status in the SIS to one of the configured active or inactive values.",
    "bad_score": "Correct the score in the SIS; it must be a number or left empty.",
    "bad_date": "Correct the entry or exit date in the SIS; it is not a date in the export's date format.",
    "forbidden_character": "Remove the pipe, line break or control character from this value in the SIS.",
    "ragged_row": "This line of the export does not have the same number of columns as the header; check the SIS report for stray delimiters or quotes.",
}


def _filled(s: pd.Series) -> pd.Series:
    return s.str.len() > 0


def _clean(s: pd.Series) -> pd.Series:
    return ~s.str.contains(FORBIDDEN, regex=True)


def _is_number(s: pd.Series) -> pd.Series:
    return ~_filled(s) | pd.to_numeric(s, errors="coerce").notna()


class RosterRow(pa.DataFrameModel):
    """One student row of an SIS export, after reading (all text, spaces trimmed, names NFC)."""

    row_number: Series[int]
    state_test_number: Series[str]
    legal_first_name: Series[str]
    legal_last_name: Series[str]
    date_of_birth: Series[str]
    grade: Series[str]
    campus: Series[str]
    status: Series[str]
    local_student_id: Optional[Series[str]]
    legal_middle_name: Optional[Series[str]]
    gender: Optional[Series[str]]
    diagnosis: Optional[Series[str]]
    ela_score: Optional[Series[str]]
    math_score: Optional[Series[str]]
    entry_date: Optional[Series[str]]
    exit_date: Optional[Series[str]]

    @pa.check("state_test_number", name="missing_state_id")
    def _state_id_present(cls, s: Series[str]) -> Series[bool]:
        return _filled(s)

    @pa.check("state_test_number", name="duplicate_state_id")
    def _state_id_unique(cls, s: Series[str]) -> Series[bool]:
        # Every row of a duplicated id is rejected: the export cannot say which one is the student.
        return ~_filled(s) | ~s.duplicated(keep=False)

    @pa.check("legal_first_name", name="missing_first_name")
    def _first_name_present(cls, s: Series[str]) -> Series[bool]:
        return _filled(s)

    @pa.check("legal_last_name", name="missing_last_name")
    def _last_name_present(cls, s: Series[str]) -> Series[bool]:
        return _filled(s)

    @pa.check("date_of_birth", name="missing_date_of_birth")
    def _dob_present(cls, s: Series[str]) -> Series[bool]:
        return _filled(s)

    @pa.check("ela_score", "math_score", name="bad_score")
    def _score_numeric(cls, s: Series[str]) -> Series[bool]:
        return _is_number(s)

    @pa.check(
        "state_test_number", "legal_first_name", "legal_last_name", "legal_middle_name", "date_of_birth",
        "grade", "campus", "status", "local_student_id", "gender", "diagnosis", "ela_score",
        "math_score", "entry_date", "exit_date",
        name="forbidden_character",
    )
    def _no_forbidden_characters(cls, s: Series[str]) -> Series[bool]:
        return _clean(s)

    class Config:
        strict = False
        coerce = False


@dataclass(frozen=True)
class NightRules:
    """What a night's rows are checked against besides the model's fixed rules."""

    state_id_pattern: str
    date_format: str
    roster_date: dt.date
    status_values: frozenset[str]
    crossmatch: CrossMatch

    @classmethod
    def for_night(cls, district: District, crossmatch: CrossMatch, roster_date: dt.date) -> NightRules:
        sv = district.source.status_values
        return cls(
            state_id_pattern=district.source.state_id_pattern,
            date_format=district.source.date_format,
            roster_date=roster_date,
            status_values=frozenset(sv.active) | frozenset(sv.inactive),
            crossmatch=crossmatch,
        )


def _night_checks(rules: NightRules) -> dict[str, list[pa.Check]]:
    pattern, fmt, day = rules.state_id_pattern, rules.date_format, rules.roster_date

    def in_table(table: dict[str, str]):
        codes = list(table)
        return lambda s: s.isin(codes)

    def age_in_range(s: pd.Series) -> pd.Series:
        born = parse_dates(s, fmt)
        return born.isna() | age_on(born, day).between(MIN_AGE, MAX_AGE)

    return {
        "state_test_number": [
            pa.Check(lambda s: ~_filled(s) | s.str.fullmatch(pattern), name="bad_state_id"),
        ],
        "date_of_birth": [
            pa.Check(lambda s: ~_filled(s) | parse_dates(s, fmt).notna(), name="bad_date_of_birth"),
            pa.Check(age_in_range, name="age_out_of_range"),
        ],
        "grade": [pa.Check(in_table(rules.crossmatch.grades), name="unknown_grade")],
        "campus": [pa.Check(in_table(rules.crossmatch.campuses), name="unknown_campus")],
        "diagnosis": [
            pa.Check(lambda s: ~_filled(s) | s.isin(list(rules.crossmatch.diagnoses)), name="unknown_diagnosis")
        ],
        "status": [pa.Check(lambda s: s.isin(list(rules.status_values)), name="unknown_status")],
        "entry_date": [pa.Check(lambda s: ~_filled(s) | parse_dates(s, fmt).notna(), name="bad_date")],
        "exit_date": [pa.Check(lambda s: ~_filled(s) | parse_dates(s, fmt).notna(), name="bad_date")],
    }


def build_schema(rules: NightRules) -> pa.DataFrameSchema:
    """The model's schema with tonight's district-specific checks added to their columns."""
    schema = RosterRow.to_schema()
    updates = {
        column: {"checks": [*schema.columns[column].checks, *checks]}
        for column, checks in _night_checks(rules).items()
    }
    return schema.update_columns(updates)


REJECT_COLUMNS = ["row_number", "state_test_number", "field", "reason"]


def find_rejects(frame: pd.DataFrame, rules: NightRules) -> pd.DataFrame:
    """One row per rejected row and reason: ``row_number, state_test_number, field, reason``.

    Only ids and row numbers leave this function, never a name or a date of birth.
    """
    schema = build_schema(rules)
    try:
        schema.validate(frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row_number" else "str") for c in REJECT_COLUMNS})
    unexpected = cases[cases["index"].isna()]
    if not unexpected.empty:
        # A schema-level failure (a column of the wrong type) is a bug in reading, not bad data.
        first = unexpected.iloc[0]
        raise RuntimeError(f"roster schema failed on column {first['column']}: {first['check']}")
    index = cases["index"].astype("int64").to_numpy()
    rejects = pd.DataFrame(
        {
            "row_number": frame["row_number"].to_numpy()[index],
            "state_test_number": frame["state_test_number"].to_numpy()[index],
            "field": cases["column"].to_numpy(),
            "reason": cases["check"].to_numpy(),
        }
    )
    return rejects.drop_duplicates().sort_values(["row_number", "field", "reason"], kind="stable").reset_index(drop=True)
