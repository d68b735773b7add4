"""The vectorized check kernels the rule catalog (``roster.rules.catalog``) is made of.

A kernel is a function of a column's Arrow strings returning a numpy boolean per row (True: the value
passes): one call per column, never one per value. They use Arrow and numpy (pandas only on a column's
few distinct values). The kernels that need the night (a pattern, a date format, a set of codes) are
made by a function taking those parameters.

Empty cells are empty strings, never nulls: a missing value is a reason code, not a dtype error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from roster.fast import ids
from roster.fast.arrow import bools, text
from roster.fast.scans import forbidden_values
from roster.rules.dates import age_on, parse_dates

Kernel = Callable[[pa.ChunkedArray], np.ndarray]


def column_text(s: pd.Series) -> pa.ChunkedArray:
    """The Arrow strings behind a text column (zero-copy); a missing value reads as empty text."""
    data = text(s)
    return pc.fill_null(data, "") if data.null_count else data


def present(data: pa.ChunkedArray) -> np.ndarray:
    return bools(pc.greater(pc.binary_length(data), 0))


def unique_or_empty(data: pa.ChunkedArray) -> np.ndarray:
    # Every row of a duplicated id fails: the export cannot say which one is the student.
    return ~present(data) | ~ids.duplicated(data)


def _per_value(data: pa.ChunkedArray, verdict: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
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


def numeric_or_empty(data: pa.ChunkedArray) -> np.ndarray:
    return _per_value(
        data, lambda v: ((v.str.len() == 0) | pd.to_numeric(v, errors="coerce").notna()).to_numpy(dtype=bool)
    )


def no_forbidden(data: pa.ChunkedArray) -> np.ndarray:
    """No pipe (it breaks the vendor's columns), CR/LF (its rows) or other control character
    (C0, DEL, C1: a cp1252 export read as latin-1 gives C1 controls), found by a byte scan."""
    masks = [forbidden_values(chunk) for chunk in data.chunks]
    return ~np.concatenate(masks) if masks else np.zeros(0, dtype=bool)


def fullmatch(pattern: str) -> Kernel:
    """Empty, or ``Series.str.fullmatch(pattern)`` as pandas runs it on Arrow strings (RE2, anchored)."""
    if (not pattern.endswith("$") or pattern.endswith("\\$")) and not pattern.startswith("^"):
        pattern = f"^({pattern})$"
    elif not pattern.endswith("$") or pattern.endswith("\\$"):
        pattern = f"^({pattern[1:]})$"
    elif not pattern.startswith("^"):
        pattern = f"^({pattern[0:-1]})$"
    anchored = f"^({pattern[1:]})"

    def kernel(data: pa.ChunkedArray) -> np.ndarray:
        return ~present(data) | bools(pc.match_substring_regex(data, anchored))

    return kernel


def date_or_empty(date_format: str) -> Kernel:
    def verdict(values: pd.Series) -> np.ndarray:
        return ((values.str.len() == 0) | parse_dates(values, date_format).notna()).to_numpy(dtype=bool)

    return lambda data: _per_value(data, verdict)


def age_in_range(date_format: str, day: dt.date, low: int, high: int) -> Kernel:
    """Whole years of age on ``day`` within ``low``-``high``; a value that is not a date passes
    (the date rules reject it)."""

    def verdict(values: pd.Series) -> np.ndarray:
        born = parse_dates(values, date_format)
        return (born.isna() | age_on(born, day).between(low, high)).to_numpy(dtype=bool)

    return lambda data: _per_value(data, verdict)


def one_of(values: Iterable[str], empty_passes: bool = False) -> Kernel:
    codes = pa.array(sorted(values), pa.large_string())

    def kernel(data: pa.ChunkedArray) -> np.ndarray:
        known = bools(pc.is_in(data, value_set=codes))
        return (~present(data) | known) if empty_passes else known

    return kernel
