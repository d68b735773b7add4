"""The roster row rules as a pandera ``DataFrameModel``: the specification of a valid export row.

Each check is named by the reason code a rejected row gets and calls the vectorized rule function in
``roster.rules.checks``. The rules that hold for every district live on the model; the district's and
the night's (State Test Number pattern, date format, age on the roster date, status words,
cross-match codes) are added to its schema by ``build_schema``.

The night itself runs the same rules without pandera (``roster.rules.checks.find_rejects``); the tests
hold the two to the same checks and the same rejects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_
from pandera.typing import Series

from roster.rules.checks import (
    NightRules,
    Rule,
    _arrow,
    _no_forbidden,
    _numeric_or_empty,
    _present,
    _unique_or_empty,
    night_rules,
)


def _verdict(s: pd.Series, rule: Rule) -> pd.Series:
    """A rule's verdict per row as a boolean Series on the column's index."""
    mask = rule(_arrow(s))
    if isinstance(mask, (pa_.Array, pa_.ChunkedArray)):
        mask = mask.to_numpy(zero_copy_only=False) if len(mask) else np.zeros(0, dtype=bool)
    return pd.Series(np.asarray(mask, dtype=bool), index=s.index, copy=False)


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
    local_student_id: Series[str] | None
    legal_middle_name: Series[str] | None
    gender: Series[str] | None
    diagnosis: Series[str] | None
    ela_score: Series[str] | None
    math_score: Series[str] | None
    entry_date: Series[str] | None
    exit_date: Series[str] | None

    @pa.check("state_test_number", name="missing_state_id")
    def _state_id_present(cls, s: Series[str]) -> Series[bool]:
        return _verdict(s, _present)

    @pa.check("state_test_number", name="duplicate_state_id")
    def _state_id_unique(cls, s: Series[str]) -> Series[bool]:
        return _verdict(s, _unique_or_empty)

    @pa.check("legal_first_name", name="missing_first_name")
    def _first_name_present(cls, s: Series[str]) -> Series[bool]:
        return _verdict(s, _present)

    @pa.check("legal_last_name", name="missing_last_name")
    def _last_name_present(cls, s: Series[str]) -> Series[bool]:
        return _verdict(s, _present)

    @pa.check("date_of_birth", name="missing_date_of_birth")
    def _dob_present(cls, s: Series[str]) -> Series[bool]:
        return _verdict(s, _present)

    @pa.check("ela_score", "math_score", name="bad_score")
    def _score_numeric(cls, s: Series[str]) -> Series[bool]:
        return _verdict(s, _numeric_or_empty)

    @pa.check(
        "state_test_number", "legal_first_name", "legal_last_name", "legal_middle_name", "date_of_birth",
        "grade", "campus", "status", "local_student_id", "gender", "diagnosis", "ela_score",
        "math_score", "entry_date", "exit_date",
        name="forbidden_character",
    )
    def _no_forbidden_characters(cls, s: Series[str]) -> Series[bool]:
        return _verdict(s, _no_forbidden)

    class Config:
        strict = False
        coerce = False


def build_schema(rules: NightRules) -> pa.DataFrameSchema:
    """The model's schema with tonight's district-specific checks added to their columns."""
    schema = RosterRow.to_schema()
    checks: dict[str, list[pa.Check]] = {}
    for (column, name), rule in night_rules(rules).items():
        checks.setdefault(column, []).append(pa.Check(lambda s, rule=rule: _verdict(s, rule), name=name))
    return schema.update_columns({column: {"checks": [*schema.columns[column].checks, *more]} for column, more in checks.items()})
