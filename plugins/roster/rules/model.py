"""What a valid export row is, as a pandera ``DataFrameModel``, and the night's rejects found by it.

``RosterRow`` is the specification of the columns: typed fields, required and optional.
``build_schema`` attaches every rule of the catalog (``roster.rules.catalog``) to its columns as a
``pa.Check`` named by its reason code, calling the rule's vectorized kernel; ``find_rejects`` runs that
schema's lazy ``validate`` on the night's frame and turns pandera's failure cases into the rejects.

pandera's failure cases and error messages hold the failing values (names, dates of birth): only their
index, column and check ever leave this module.

The rejects identify a row by its row number and its State Test Number, as the export has it, but
only when that value is clearly an id (``checks.clearly_id``): it matches the district's
``state_id_pattern`` or is made only of ASCII letters, digits and ``. + - _``, it holds a digit, and
it does not look like a date (a date in the district's ``date_format``; a day, month and year with
separators or with the month's name, ``checks.DATE_SHAPED``; or eight digits that are a real
YYYYMMDD, MMDDYYYY or DDMMYYYY date when they fail the pattern). Any other value is shown as ``MASKED_ID``: with the State ID and birth-date headers
swapped, the birth dates would otherwise be in ``rejects.csv`` and the QA email.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
from pandera import dtypes
from pandera.engines import pandas_engine
from pandera.typing import Series

from roster.rules import catalog
from roster.rules.catalog import NightRules, Rule
from roster.rules.checks import FrameKernel, Kernel, clearly_id, column_text, taken


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

    class Config:
        strict = False
        coerce = False


class _ArrowText(pandas_engine.STRING):
    """pandas' ``str`` dtype, checked once per column.

    pandera's own string dtype answers a column of the right dtype with a True per row, which pandera
    then scans for failing rows and formats into a message: work the one comparison already settled.
    """

    def check(
        self,
        pandera_dtype: dtypes.DataType,
        data_container: pd.Series | None = None,  # noqa: ARG002 (pandera's signature; the dtype alone decides)
    ) -> bool | Iterable[bool]:
        return super().check(pandera_dtype)


_COLUMNS = RosterRow.to_schema().columns

#: The columns every export has after reading (the model's non-optional fields).
REQUIRED_COLUMNS = tuple(name for name, column in _COLUMNS.items() if column.required)
#: The model's text fields: the columns of a rule on ``catalog.TEXT_COLUMNS``.
TEXT_FIELDS = tuple(name for name, column in _COLUMNS.items() if dtypes.is_string(column.dtype))

REJECT_COLUMNS = ["row_number", "state_test_number", "field", "reason"]

#: The rejects' State Test Number of a value that is not clearly an id (``checks.clearly_id``). The
#: same token whatever the value (neither its length nor its content shows), and never an id: it
#: holds no digit, so no value that is shown can be it. Not an id to the diff's retention either.
MASKED_ID = "[masked]"


def columns_of(rule: Rule) -> tuple[str, ...]:
    """The columns a catalog rule checks."""
    return TEXT_FIELDS if rule.columns == catalog.TEXT_COLUMNS else tuple(rule.columns)


def _check(reason: str, kernel: Kernel) -> pa.Check:
    """A kernel as a pandera check: its numpy verdict wrapped, without a copy, on the column's index.

    ``ignore_na=False``: the kernel sees every row (pandera would drop nulls first, a copy).
    """

    def verdict(s: pd.Series) -> pd.Series:
        return pd.Series(kernel(column_text(s)), index=s.index, copy=False)

    return pa.Check(verdict, name=reason, ignore_na=False)


def _frame_check(reason: str, kernel: FrameKernel) -> pa.Check:
    """A frame kernel as a check of the whole frame (pandera reports its failures on every column)."""

    def verdict(frame: pd.DataFrame) -> pd.Series:
        return pd.Series(kernel(frame), index=frame.index, copy=False)

    return pa.Check(verdict, name=reason, ignore_na=False)


def build_schema(rules: NightRules) -> pa.DataFrameSchema:
    """The model's schema with every catalog rule attached to its columns, tonight's kernels made;
    a rule of the whole frame (``Rule.for_frame``) as a check of the frame."""
    checks: dict[str, list[pa.Check]] = {}
    frame_checks: list[pa.Check] = []
    for rule in catalog.RULES:
        frame_kernel = rule.frame_kernel_of(rules)
        if frame_kernel is not None:
            frame_checks.append(_frame_check(rule.reason, frame_kernel))
        kernel = rule.kernel_of(rules)
        if kernel is None:
            continue  # found by the reader (a ragged row), or by a check of the frame
        check = _check(rule.reason, kernel)
        for column in columns_of(rule):
            checks.setdefault(column, []).append(check)
    schema = RosterRow.to_schema()
    unknown = sorted(set(checks) - set(schema.columns))
    if unknown:
        raise ValueError(f"a catalog rule checks {unknown[0]}, which is not a field of RosterRow")
    text = _ArrowText(schema.columns[TEXT_FIELDS[0]].dtype.storage)
    schema = schema.update_columns(
        {
            column: {
                "checks": [*spec.checks, *checks.get(column, [])],
                **({"dtype": text} if column in TEXT_FIELDS else {}),
            }
            for column, spec in schema.columns.items()
        }
    )
    schema.checks = [*schema.checks, *frame_checks]  # update_columns made this schema a copy
    return schema


def find_rejects(frame: pd.DataFrame, rules: NightRules) -> pd.DataFrame:
    """One row per rejected row and reason: ``row_number, state_test_number, field, reason``.

    The schema of ``build_schema`` validates the frame (lazily: every check on every column the frame
    has); each failing (row, column, check) is a reject. Only ids and row numbers leave this
    function, never a name or a date of birth.
    """
    schema = build_schema(rules)
    failures = _failures(schema, frame)
    reasons = _reasons(schema)
    reading = failures["index"].isna().to_numpy() | ~failures["check"].isin(reasons).to_numpy()
    if reading.any():
        # pandera's own checks (a column present, its dtype, no nulls) fail, and a check fails on a
        # whole column, only on a frame the reader did not make: the reader names a missing header,
        # types every column and gives an empty cell as empty text.
        first = failures[reading].iloc[0]
        raise RuntimeError(f"roster schema failed on column {first['column']}: {first['check']}")
    positions = frame.index.get_indexer(pd.Index(failures["index"].to_numpy(), dtype=frame.index.dtype))
    return _rejects_frame(
        frame, positions, _fields(failures, reasons), failures["check"].map(reasons).to_numpy(), rules
    )


def _fields(failures: pd.DataFrame, reasons: dict[str, str]) -> np.ndarray:
    """The field of each failure: its column, or for a check of the frame (pandera reports it once
    per column of the row) the rule's own field, ``columns[0]`` (the repeats are then dropped)."""
    fields = failures["column"].to_numpy(dtype=object).copy()
    wide = failures["wide"].to_numpy(dtype=bool)
    if wide.any():
        field_of = {rule.reason: columns_of(rule)[0] for rule in catalog.RULES if rule.for_frame is not None}
        fields[wide] = failures["check"][wide].map(reasons).map(field_of).to_numpy(dtype=object)
    return fields


def _reasons(schema: pa.DataFrameSchema) -> dict[str, str]:
    """How pandera names each of the schema's checks in its failure cases -> the reason code.

    pandera reports a check by its error text when it has one (its built-in checks do), else by its
    name; a check's reason is its name.
    """
    checks = [*(check for column in schema.columns.values() for check in column.checks), *schema.checks]
    return {check.error if check.error is not None else check.name: check.name or check.error for check in checks}


def _failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """``index, column, check, wide`` of every failure of ``schema`` on ``frame``; never the failing
    values. ``wide``: a failure of a check of the whole frame (``build_schema``'s frame checks).

    For a missing column pandera's column is empty and its failure case is the column's name (from
    the schema, not the data): that name is the column.
    """
    try:
        schema.validate(frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        missing = (cases["check"] == "column_in_dataframe").to_numpy()
        columns = cases["column"].to_numpy(dtype=object).copy()
        columns[missing] = cases["failure_case"].to_numpy(dtype=object)[missing]
        wide = (cases["schema_context"] == "DataFrameSchema").to_numpy(dtype=bool)
        return pd.DataFrame(
            {"index": cases["index"].to_numpy(), "column": columns, "check": cases["check"].to_numpy(), "wide": wide}
        )
    return pd.DataFrame({"index": pd.Series([], dtype="int64"), "column": [], "check": [], "wide": []})


def shown_ids(ids: pyarrow.ChunkedArray, rules: NightRules) -> np.ndarray:
    """State Test Numbers as a report may show them: clearly an id as it is, empty as empty, any
    other value ``MASKED_ID`` (see the module's docstring). Each distinct value is judged once."""
    values = ids.to_numpy(zero_copy_only=False).astype(object) if len(ids) else np.zeros(0, dtype=object)
    return np.where(clearly_id(rules.state_id_pattern, rules.date_format)(ids) | (values == ""), values, MASKED_ID)


def _rejects_frame(frame: pd.DataFrame, index, fields, reasons, rules: NightRules) -> pd.DataFrame:
    """The rejects table for ``frame``'s rows at ``index``, each with its field and reason: every
    (row, field, reason) once, by row, then field, then reason (code-point order)."""
    index = np.asarray(index, dtype=np.int64)
    ids = taken(column_text(frame["state_test_number"]), index)
    rejects = pd.DataFrame(
        {
            "row_number": pd.Series(frame["row_number"].to_numpy()[index], dtype="int64"),
            "state_test_number": pd.Series(shown_ids(ids, rules), dtype="str"),
            "field": pd.Series(np.asarray(fields, dtype=object), dtype="str"),
            "reason": pd.Series(np.asarray(reasons, dtype=object), dtype="str"),
        },
        columns=REJECT_COLUMNS,
    )
    return rejects.drop_duplicates().sort_values(["row_number", "field", "reason"], kind="stable", ignore_index=True)
