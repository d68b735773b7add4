"""Row rules for a night's export, and the executor that applies them.

Each rule is named by the reason code a rejected row gets, and every rule is vectorized: a function
of a column's Arrow strings returning a verdict per row (one call per column, never per value).
Rules that depend on the district and the night (the State Test Number pattern, date format, age on
the roster date, status words, cross-match codes) come from ``NightRules``.

The specification of these rules is the pandera ``DataFrameModel`` in ``roster.rules.model``: the same
named checks on the same columns, calling the same rule functions. The night runs them here, all at
once on the cores, without pandera (``find_rejects``); measured in docs/PERFORMANCE.md, pandera's
validate call and its imports cost more than the rules themselves. ``find_rejects_by_model`` runs the
model, and the tests hold both to the same rejects, so the executor cannot drift from the model.

Empty cells are empty strings, never nulls: a missing value is a reason code, not a dtype error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa_
import pyarrow.compute as pc

from roster.fast import ids
from roster.fast.arrow import parallel, take, text
from roster.config import District
from roster.config.crossmatch import CrossMatch
from roster.rules.dates import age_on, parse_dates

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


# Rules ---------------------------------------------------------------------------------------------
#
# Each rule is a function of a column's Arrow strings that returns a numpy boolean per row (True:
# the value passes). They use Arrow and numpy (pandas only on a column's few distinct values), so
# ``find_rejects`` runs them all at once on the cores.

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


#: The rules every district shares, by (column, check name): ``roster.rules.model.RosterRow``'s own checks.
MODEL_RULES: dict[tuple[str, str], Rule] = {
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


def night_rules(rules: NightRules) -> dict[tuple[str, str], Rule]:
    """Tonight's district-specific rules, by (column, check name): added to the model by ``build_schema``."""
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


#: The columns every export has after reading (the model's non-optional fields).
REQUIRED_COLUMNS = (
    "row_number", "state_test_number", "legal_first_name", "legal_last_name", "date_of_birth", "grade", "campus", "status",
)

REJECT_COLUMNS = ["row_number", "state_test_number", "field", "reason"]


def all_rules(rules: NightRules) -> dict[tuple[str, str], Rule]:
    """Every rule a night runs, by (column, check name): the model's and the district's."""
    return {**MODEL_RULES, **night_rules(rules)}


def find_rejects(frame: pd.DataFrame, rules: NightRules) -> pd.DataFrame:
    """One row per rejected row and reason: ``row_number, state_test_number, field, reason``.

    Every rule of the model runs once on its column's Arrow data, all of them at once on the
    cores; a rule on a column the export does not have (an optional field) does not run. Only ids
    and row numbers leave this function, never a name or a date of birth.
    """
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        # The reader names a missing header; reaching here is a bug in reading, not bad data.
        raise RuntimeError(f"roster schema failed on column {missing[0]}: column_in_dataframe")
    checks = [(column, check, rule) for (column, check), rule in all_rules(rules).items() if column in frame.columns]
    data = {column: _arrow(frame[column]) for column, _, _ in checks}
    failed = parallel(lambda item: np.flatnonzero(~item[2](data[item[0]])), checks)
    counts = [len(positions) for positions in failed]
    return _rejects_frame(
        frame,
        np.concatenate(failed) if failed else [],
        np.repeat(np.array([column for column, _, _ in checks], dtype=object), counts),
        np.repeat(np.array([check for _, check, _ in checks], dtype=object), counts),
    )


def find_rejects_by_model(frame: pd.DataFrame, rules: NightRules) -> pd.DataFrame:
    """``find_rejects`` as the pandera model runs it (one lazy ``validate`` call): the reference."""
    import pandera.pandas as pdr

    from roster.rules.model import build_schema

    try:
        build_schema(rules).validate(frame, lazy=True, inplace=True)
    except pdr.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return _rejects_frame(frame, [], [], [])
    unexpected = cases[cases["index"].isna()]
    if not unexpected.empty:
        # A schema-level failure (a column of the wrong type) is a bug in reading, not bad data.
        first = unexpected.iloc[0]
        raise RuntimeError(f"roster schema failed on column {first['column']}: {first['check']}")
    return _rejects_frame(frame, cases["index"].astype("int64").to_numpy(), cases["column"].to_numpy(), cases["check"].to_numpy())


def _rejects_frame(frame: pd.DataFrame, index, fields, reasons) -> pd.DataFrame:
    """The rejects table for ``frame``'s rows at ``index``, each with its field and reason: every
    (row, field, reason) once, by row, then field, then reason (code-point order)."""
    index = np.asarray(index, dtype=np.int64)
    rejects = pd.DataFrame(
        {
            "row_number": pd.Series(frame["row_number"].to_numpy()[index], dtype="int64"),
            "state_test_number": pd.Series(
                take(_arrow(frame["state_test_number"]), index).to_numpy(zero_copy_only=False) if len(index) else [], dtype="str"
            ),
            "field": pd.Series(np.asarray(fields, dtype=object), dtype="str"),
            "reason": pd.Series(np.asarray(reasons, dtype=object), dtype="str"),
        },
        columns=REJECT_COLUMNS,
    )
    return rejects.drop_duplicates().sort_values(["row_number", "field", "reason"], kind="stable", ignore_index=True)
