"""Row rules for a night's export, as a pandera ``DataFrameModel``.

Each check is named by the reason code a rejected row gets, and every check is vectorized (one call
per column, never per value). Rules that depend on the district and the night (the State Test Number
pattern, date format, age on the roster date, status words, cross-match codes) are added to the
model's schema by ``build_schema``; the rules that hold for every district live on the model itself.

Empty cells are empty strings, never nulls: a missing value is a reason code, not a dtype error.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from dataclasses import dataclass
from collections.abc import Callable
from typing import Optional

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_
import pyarrow.compute as pc
from pandera.typing import Series

from roster import ids
from roster.arrowkit import take, text
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


def _arrow(s: pd.Series) -> pa_.ChunkedArray:
    """The Arrow strings behind a text column (zero-copy); a missing value reads as empty text."""
    data = text(s)
    return pc.fill_null(data, "") if data.null_count else data


def _series(s: pd.Series, mask) -> pd.Series:
    """A check's verdict per row (an Arrow or numpy boolean array) as a Series on the column's index."""
    if isinstance(mask, (pa_.Array, pa_.ChunkedArray)):
        mask = mask.to_numpy(zero_copy_only=False) if len(mask) else np.zeros(0, dtype=bool)
    return pd.Series(np.asarray(mask, dtype=bool), index=s.index, copy=False)


# Rules ---------------------------------------------------------------------------------------------
#
# Each rule is a function of a column's Arrow strings that returns a numpy boolean per row (True:
# the value passes). They use Arrow and numpy only, so ``find_rejects`` can start them all on the
# cores before pandera runs the checks that call them (see ``_Prefetch``).

Rule = Callable[[pa_.ChunkedArray], np.ndarray]


def _bools(values: pa_.Array | pa_.ChunkedArray) -> np.ndarray:
    return values.to_numpy(zero_copy_only=False).astype(bool, copy=False) if len(values) else np.zeros(0, dtype=bool)


def _present(data: pa_.ChunkedArray) -> np.ndarray:
    return _bools(pc.greater(pc.binary_length(data), 0))


def _unique_or_empty(data: pa_.ChunkedArray) -> np.ndarray:
    # Every row of a duplicated id is rejected: the export cannot say which one is the student.
    return ~_present(data) | ~ids.duplicated(data)


def _per_value(data: pa_.ChunkedArray, verdict: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    """``verdict`` (distinct values -> numpy bools) applied through the column's distinct values.

    Dates of birth, scores and codes repeat a lot: a few thousand distinct values for millions of
    rows, so each distinct value is judged once (with pandas, as a ``str`` Series like the column)
    and the verdicts mapped back: a categorical map.
    """
    if len(data) == 0:
        return np.zeros(0, dtype=bool)
    encoded = pc.dictionary_encode(data).combine_chunks()
    verdicts = np.asarray(verdict(encoded.dictionary.to_pandas()), dtype=bool)
    return verdicts[encoded.indices.to_numpy(zero_copy_only=False)]


def _numeric_or_empty(data: pa_.ChunkedArray) -> np.ndarray:
    return _per_value(data, lambda v: ((v.str.len() == 0) | pd.to_numeric(v, errors="coerce").notna()).to_numpy(dtype=bool))


def _no_forbidden(data: pa_.ChunkedArray) -> np.ndarray:
    return ~_contains_forbidden(data)


def _contains_forbidden(data: pa_.ChunkedArray) -> np.ndarray:
    """Per value: holds a pipe or a control character (C0, DEL or C1): ``FORBIDDEN``, found bytewise.

    In UTF-8 these characters are exactly the bytes 0x00-0x1F, 0x7C and 0x7F (never part of a longer
    character) and the pairs 0xC2 0x80-0x9F; each chunk's bytes are scanned at once (numpy) and a
    hit is mapped to its value through the offsets: one pass, no regular expression per value.
    """
    masks = [_forbidden_in_chunk(chunk) for chunk in data.chunks]
    return np.concatenate(masks) if masks else np.zeros(0, dtype=bool)


def _forbidden_in_chunk(chunk: pa_.Array) -> np.ndarray:
    flags = np.zeros(len(chunk), dtype=bool)
    if len(chunk) == 0 or chunk.buffers()[2] is None:
        return flags
    kind = np.int64 if pa_.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(chunk.buffers()[1], dtype=kind)[chunk.offset : chunk.offset + len(chunk) + 1]
    if offsets[-1] == offsets[0]:
        return flags
    data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    hits = (data < 0x20) | (data == 0x7C) | (data == 0x7F)
    lead = np.flatnonzero(data[:-1] == 0xC2)
    c1 = lead[data[lead + 1] <= 0x9F]
    positions = np.flatnonzero(hits)
    if c1.size:
        positions = np.concatenate([positions, c1])
    if positions.size:
        flags[np.searchsorted(offsets[1:] - offsets[0], positions, side="right")] = True
    return flags


def _fullmatch(pattern: str) -> Rule:
    """Empty, or ``Series.str.fullmatch(pattern)`` as pandas runs it on Arrow strings (RE2, anchored)."""
    if (not pattern.endswith("$") or pattern.endswith("\\$")) and not pattern.startswith("^"):
        pattern = f"^({pattern})$"
    elif not pattern.endswith("$") or pattern.endswith("\\$"):
        pattern = f"^({pattern[1:]})$"
    elif not pattern.startswith("^"):
        pattern = f"^({pattern[0:-1]})$"
    anchored = f"^({pattern[1:]})"

    def rule(data: pa_.ChunkedArray) -> np.ndarray:
        return ~_present(data) | _bools(pc.match_substring_regex(data, anchored))

    return rule


def _date_or_empty(date_format: str) -> Rule:
    def verdict(values: pd.Series) -> np.ndarray:
        return ((values.str.len() == 0) | parse_dates(values, date_format).notna()).to_numpy(dtype=bool)

    return lambda data: _per_value(data, verdict)


def _age_in_range(date_format: str, day: dt.date) -> Rule:
    def verdict(values: pd.Series) -> np.ndarray:
        born = parse_dates(values, date_format)
        return (born.isna() | age_on(born, day).between(MIN_AGE, MAX_AGE)).to_numpy(dtype=bool)

    return lambda data: _per_value(data, verdict)


def _one_of(values, empty_passes: bool = False) -> Rule:
    codes = pa_.array(sorted(values), pa_.large_string())

    def rule(data: pa_.ChunkedArray) -> np.ndarray:
        known = _bools(pc.is_in(data, value_set=codes))
        return (~_present(data) | known) if empty_passes else known

    return rule


# The rules run by pandera -------------------------------------------------------------------------


class _Prefetch:
    """Rule results computed ahead, on all cores, while pandera runs the checks one by one.

    ``find_rejects`` knows every (column, check) pair the schema will run and the Arrow data of each
    column, so it starts all the rules at once; a check then takes its result (waiting if needed).
    A check on other data (another frame) computes its rule itself, as without prefetching.
    """

    def __init__(self, frame: pd.DataFrame, rules: dict[tuple[str, str], Rule]) -> None:
        from roster.arrowkit import submit

        self.data = {column: _arrow(frame[column]) for column, _ in rules if column in frame.columns}
        self.futures = {
            key: submit(rule, self.data[key[0]]) for key, rule in rules.items() if key[0] in self.data
        }

    def result(self, s: pd.Series, check: str, rule: Rule) -> np.ndarray:
        future = self.futures.pop((s.name, check), None)
        data = _arrow(s)
        if future is not None and data is self.data.get(s.name):
            return future.result()
        return rule(data)


#: The prefetch of the ``find_rejects`` running in this thread (pandera calls the checks in it).
_PREFETCH: contextvars.ContextVar[_Prefetch | None] = contextvars.ContextVar("roster_prefetch", default=None)


def _verdict(s: pd.Series, check: str, rule: Rule) -> pd.Series:
    prefetch = _PREFETCH.get()
    passed = prefetch.result(s, check, rule) if prefetch is not None else rule(_arrow(s))
    return _series(s, passed)


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
        return _verdict(s, "missing_state_id", _present)

    @pa.check("state_test_number", name="duplicate_state_id")
    def _state_id_unique(cls, s: Series[str]) -> Series[bool]:
        return _verdict(s, "duplicate_state_id", _unique_or_empty)

    @pa.check("legal_first_name", name="missing_first_name")
    def _first_name_present(cls, s: Series[str]) -> Series[bool]:
        return _verdict(s, "missing_first_name", _present)

    @pa.check("legal_last_name", name="missing_last_name")
    def _last_name_present(cls, s: Series[str]) -> Series[bool]:
        return _verdict(s, "missing_last_name", _present)

    @pa.check("date_of_birth", name="missing_date_of_birth")
    def _dob_present(cls, s: Series[str]) -> Series[bool]:
        return _verdict(s, "missing_date_of_birth", _present)

    @pa.check("ela_score", "math_score", name="bad_score")
    def _score_numeric(cls, s: Series[str]) -> Series[bool]:
        return _verdict(s, "bad_score", _numeric_or_empty)

    @pa.check(
        "state_test_number", "legal_first_name", "legal_last_name", "legal_middle_name", "date_of_birth",
        "grade", "campus", "status", "local_student_id", "gender", "diagnosis", "ela_score",
        "math_score", "entry_date", "exit_date",
        name="forbidden_character",
    )
    def _no_forbidden_characters(cls, s: Series[str]) -> Series[bool]:
        return _verdict(s, "forbidden_character", _no_forbidden)

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


#: The rules of the model's own checks, by (column, check name): what ``find_rejects`` prefetches.
_MODEL_RULES: dict[tuple[str, str], Rule] = {
    ("state_test_number", "missing_state_id"): _present,
    ("state_test_number", "duplicate_state_id"): _unique_or_empty,
    ("legal_first_name", "missing_first_name"): _present,
    ("legal_last_name", "missing_last_name"): _present,
    ("date_of_birth", "missing_date_of_birth"): _present,
    ("ela_score", "bad_score"): _numeric_or_empty,
    ("math_score", "bad_score"): _numeric_or_empty,
    **{
        (column, "forbidden_character"): _no_forbidden
        for column in (
            "state_test_number", "legal_first_name", "legal_last_name", "legal_middle_name", "date_of_birth",
            "grade", "campus", "status", "local_student_id", "gender", "diagnosis", "ela_score",
            "math_score", "entry_date", "exit_date",
        )
    },
}


def _night_rules(rules: NightRules) -> dict[tuple[str, str], Rule]:
    """Tonight's district-specific rules, by (column, check name)."""
    fmt = rules.date_format
    return {
        ("state_test_number", "bad_state_id"): _fullmatch(rules.state_id_pattern),
        ("date_of_birth", "bad_date_of_birth"): _date_or_empty(fmt),
        ("date_of_birth", "age_out_of_range"): _age_in_range(fmt, rules.roster_date),
        ("grade", "unknown_grade"): _one_of(rules.crossmatch.grades),
        ("campus", "unknown_campus"): _one_of(rules.crossmatch.campuses),
        ("diagnosis", "unknown_diagnosis"): _one_of(rules.crossmatch.diagnoses, empty_passes=True),
        ("status", "unknown_status"): _one_of(rules.status_values),
        ("entry_date", "bad_date"): _date_or_empty(fmt),
        ("exit_date", "bad_date"): _date_or_empty(fmt),
    }


def _night_checks(rules: NightRules) -> dict[str, list[pa.Check]]:
    checks: dict[str, list[pa.Check]] = {}
    for (column, name), rule in _night_rules(rules).items():
        check = pa.Check(lambda s, name=name, rule=rule: _verdict(s, name, rule), name=name)
        checks.setdefault(column, []).append(check)
    return checks


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
    token = _PREFETCH.set(_Prefetch(frame, {**_MODEL_RULES, **_night_rules(rules)}))
    try:
        schema.validate(frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row_number" else "str") for c in REJECT_COLUMNS})
    finally:
        _PREFETCH.reset(token)
    unexpected = cases[cases["index"].isna()]
    if not unexpected.empty:
        # A schema-level failure (a column of the wrong type) is a bug in reading, not bad data.
        first = unexpected.iloc[0]
        raise RuntimeError(f"roster schema failed on column {first['column']}: {first['check']}")
    index = cases["index"].astype("int64").to_numpy()
    rejects = pd.DataFrame(
        {
            "row_number": frame["row_number"].to_numpy()[index],
            "state_test_number": take(_arrow(frame["state_test_number"]), index).to_pandas(),
            "field": cases["column"].to_numpy(),
            "reason": cases["check"].to_numpy(),
        }
    )
    return rejects.drop_duplicates().sort_values(["row_number", "field", "reason"], kind="stable").reset_index(drop=True)
