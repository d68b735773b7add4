"""Enrollment-grain exports: the rows of one student folded into one (``source.duplicate_rows: merge``).

An SIS that exports one row per enrollment (two campuses, a mid-year transfer) repeats a student's
State Test Number. With ``merge``, the rows of one id are one student when their identity agrees:
the legal first, middle (when the district maps it) and last names exactly as the reader gives them
(surrounding spaces trimmed, NFC: nothing else, so case, inner spaces and accents count and an empty
middle name disagrees with a present one: which one would the vendor be sent?), and the date of birth
as a date in the district's ``date_format`` (``01/02/2010`` and ``1/2/2010`` agree; a value that is
not a date agrees only with the same text). Two steps, both vectorized (a sort of the repeated rows'
integer codes, ``reduceat`` per id; no loop over rows):

* ``identity_conflicts``, the ``duplicate_state_id`` rule in merge mode (a frame-wide check of the
  pandera schema): every row of an id whose rows disagree on identity. Every row of the id takes part,
  rows rejected for their own reasons too: an id shared by two people is two people whatever else is
  wrong with one row, and fixing that row must not then turn a delivered student into a rejected one.
* ``merged_away``, after the rules, among the rows they accepted: which rows fold into another row of
  their id. The one delivered is the active one (over inactive), then the one with the latest
  ``entry_date`` (when mapped; an empty one sorts last), then the first (lowest row number). A row
  rejected for its own reason (an unknown campus) stays rejected; another accepted row of the id
  still delivers the student.

``roster reconcile`` applies the same two steps to the SIS export (``fold``) before comparing.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from roster.fast import ids
from roster.fast.arrow import bools
from roster.rules.checks import FrameKernel, column_text, present, taken
from roster.rules.dates import parse_dates

#: The identity fields compared, when the frame has them (the middle name only when mapped).
IDENTITY_FIELDS = ("legal_first_name", "legal_middle_name", "legal_last_name", "date_of_birth")


def _codes(data: pa.ChunkedArray) -> np.ndarray:
    """An integer per value, equal exactly where the values are (a hash: Arrow's dictionary encoding)."""
    if len(data) == 0:
        return np.zeros(0, dtype=np.int64)
    return pc.dictionary_encode(data).combine_chunks().indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _day_numbers(data: pa.ChunkedArray, date_format: str) -> tuple[np.ndarray, np.ndarray]:
    """Per value: its day number in ``date_format`` and whether it is a date (each distinct value parsed once)."""
    if len(data) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    encoded = pc.dictionary_encode(data).combine_chunks()
    parsed = parse_dates(encoded.dictionary.to_pandas(), date_format)
    valid = parsed.notna().to_numpy(dtype=bool)
    days = np.where(valid, parsed.to_numpy(dtype="datetime64[D]").astype(np.int64, copy=False), 0)
    at = encoded.indices.to_numpy(zero_copy_only=False)
    return days[at], valid[at]


def _date_codes(data: pa.ChunkedArray, date_format: str) -> np.ndarray:
    """Dates as day numbers; a value that is not a date as its own code, past every day number."""
    days, valid = _day_numbers(data, date_format)
    return np.where(valid, days, (1 << 40) + _codes(data))


def _repeated(data: pa.ChunkedArray, among: np.ndarray | None) -> np.ndarray:
    """The positions (of rows in ``among``, default all) whose id is present and on another such row."""
    candidates = np.flatnonzero(present(data) if among is None else among & present(data))
    if len(candidates) < 2:
        return np.zeros(0, dtype=np.int64)
    return candidates[ids.duplicated(taken(data, candidates))]


def _groups(group: np.ndarray, *keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows sorted by ``group`` then ``keys`` (the first key most significant), and each group's start."""
    order = np.lexsort((*reversed(keys), group)) if keys else np.argsort(group, kind="stable")
    sorted_group = group[order]
    starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]]) if len(order) else order
    return order, starts


def identity_conflicts(frame: pd.DataFrame, date_format: str) -> np.ndarray:
    """Per row: its id is on other rows whose identity differs (True: rejected as ``duplicate_state_id``)."""
    data = column_text(frame["state_test_number"])
    conflicts = np.zeros(len(data), dtype=bool)
    rows = _repeated(data, None)
    if len(rows) == 0:
        return conflicts
    keys = [
        _date_codes(taken(column_text(frame[name]), rows), date_format)
        if name == "date_of_birth"
        else _codes(taken(column_text(frame[name]), rows))
        for name in IDENTITY_FIELDS
        if name in frame.columns
    ]
    order, starts = _groups(_codes(taken(data, rows)))
    differs = np.zeros(len(starts), dtype=bool)
    for key in keys:
        ordered = key[order]
        differs |= np.minimum.reduceat(ordered, starts) != np.maximum.reduceat(ordered, starts)
    conflicts[rows[order]] = np.repeat(differs, np.diff(np.r_[starts, len(order)]))
    return conflicts


def identity_kernel(date_format: str) -> FrameKernel:
    """``identity_conflicts`` as a check of the frame: True where a row passes."""
    return lambda frame: ~identity_conflicts(frame, date_format)


def merged_away(
    frame: pd.DataFrame, active: Iterable[str], date_format: str, among: np.ndarray | None = None
) -> np.ndarray:
    """Per row of ``among`` (default all): folded into another row of its id, which delivers the student.

    Per id the row kept is the first by: active before any other status, the latest ``entry_date``
    (when the frame has it; empty or not a date last), the lowest row number. The caller has removed
    the rows of ``identity_conflicts`` (the night's rules reject them).
    """
    data = column_text(frame["state_test_number"])
    merged = np.zeros(len(data), dtype=bool)
    rows = _repeated(data, among)
    if len(rows) == 0:
        return merged
    wanted = pa.array(sorted(set(active)), pa.large_string())
    inactive = ~bools(pc.is_in(taken(column_text(frame["status"]), rows), value_set=wanted))
    if "entry_date" in frame.columns:
        days, valid = _day_numbers(taken(column_text(frame["entry_date"]), rows), date_format)
        later_first = np.where(valid, -days, np.iinfo(np.int64).max)
    else:
        later_first = np.zeros(len(rows), dtype=np.int64)
    numbers = frame["row_number"].to_numpy()[rows]
    order, starts = _groups(_codes(taken(data, rows)), inactive.astype(np.int8), later_first, numbers)
    folded = np.ones(len(order), dtype=bool)
    folded[starts] = False
    merged[rows[order[folded]]] = True
    return merged


def fold(frame: pd.DataFrame, active: Iterable[str], date_format: str) -> np.ndarray:
    """Per row: folded into another row of its id by both steps (the rows that agree on identity only)."""
    return merged_away(frame, active, date_format, among=~identity_conflicts(frame, date_format))
