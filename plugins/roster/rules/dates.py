"""Dates in SIS exports: one strict parser shared by the validator and the serializer.

pandas' parser is strict (``2/30/2010`` is not a date) where pyarrow's ``strptime`` rolls it over to
March; a date that passed validation must never come out different in the roster file, so both sides
use this function.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def parse_dates(values: pd.Series, date_format: str) -> pd.Series:
    """Dates in ``date_format``; NaT where a value is empty or not a real date."""
    return pd.to_datetime(values, format=date_format, errors="coerce")


def format_dates(parsed: pd.Series, date_format: str) -> pa.Array:
    """Parsed dates rendered in ``date_format`` (vectorized in Arrow); empty text for NaT."""
    stamps = pa.array(parsed.to_numpy(dtype="datetime64[s]"), type=pa.timestamp("s"))
    return pc.fill_null(pc.strftime(stamps, format=date_format), "")


def age_on(born: pd.Series, day: dt.date) -> pd.Series:
    """Whole years of age on ``day``."""
    had_birthday = (born.dt.month < day.month) | ((born.dt.month == day.month) & (born.dt.day <= day.day))
    return day.year - born.dt.year - (~had_birthday).astype("int64")
