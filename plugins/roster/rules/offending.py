"""The codes behind a night's code rejects (``unknown_grade`` ``13``: 4 rows), for the emails and the report.

A grade, campus, diagnosis or status code is not student data, and the point person fixes a
cross-match table or the SIS faster when told which codes are wrong. A value in a code column can
still be student data when the export's columns are swapped (a birth date under GRADE, a surname
under CAMPUS), so a value is shown only when it looks like a code (``looks_like_code``); any other
value is counted under ``MASKED_ID``.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from roster.rules.checks import COMPACT_DATES, DATE_SHAPED
from roster.rules.model import MASKED_ID

#: reason code -> the code column whose values it rejects.
CODE_REASONS = {
    "unknown_grade": "grade",
    "unknown_campus": "campus",
    "unknown_diagnosis": "diagnosis",
    "unknown_status": "status",
}
#: Distinct values listed per reason; the rest are summed under ``OTHERS``.
MAX_VALUES = 20
OTHERS = "(other values)"
MAX_CODE_LENGTH = 12

_CODE = re.compile(r"^[0-9A-Za-z._+-]+$")
_DATE_SHAPED = re.compile(DATE_SHAPED)
_DIGITS8 = re.compile(r"^[0-9]{8}$")


def looks_like_code(value: str, date_format: str) -> bool:
    """Short ASCII letters and digits, with a digit or at most 4 characters (``KG``, ``041``, ``AUT``,
    ``HS1``: not ``Garcia``), and no date (in ``date_format``, date-shaped, or eight digits that are one)."""
    if not value or len(value) > MAX_CODE_LENGTH or not _CODE.match(value):
        return False
    if not (any(c.isdigit() for c in value) or len(value) <= 4):
        return False
    if _DATE_SHAPED.search(value):
        return False
    formats = (date_format, *COMPACT_DATES) if _DIGITS8.match(value) else (date_format,)
    return not any(_is_date(value, f) for f in formats)


def _is_date(value: str, date_format: str) -> bool:
    try:
        dt.datetime.strptime(value, date_format)
    except ValueError:
        return False
    return True


def offending_values(frame: pd.DataFrame, rejects: pd.DataFrame, date_format: str) -> dict[str, dict[str, int]]:
    """reason -> {code as shown: rows} for tonight's code rejects, most rows first (ties by code).

    ``frame`` is the export as read (with ``row_number``), ``rejects`` the night's rejects frame.
    """
    found: dict[str, dict[str, int]] = {}
    for reason, field in CODE_REASONS.items():
        rows = rejects.loc[rejects["reason"] == reason, "row_number"].to_numpy()
        if len(rows) == 0 or field not in frame.columns:
            continue
        values = frame.loc[np.isin(frame["row_number"].to_numpy(), rows), field]
        counts: dict[str, int] = {}
        for value, count in values.value_counts().items():
            shown = str(value) if looks_like_code(str(value), date_format) else MASKED_ID
            counts[shown] = counts.get(shown, 0) + int(count)
        found[reason] = _top(counts)
    return found


def _top(counts: dict[str, int]) -> dict[str, int]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top = dict(ranked[:MAX_VALUES])
    rest = sum(count for _, count in ranked[MAX_VALUES:])
    if rest:
        top[OTHERS] = rest
    return top
