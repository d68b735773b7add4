"""Accepted export rows as the vendor's roster shows them: the *roster frame*.

One text column per layout field, exactly as the file shows it, plus a boolean ``active``: codes
translated through the cross-match tables, statuses as the layout's words, dates re-rendered in the
layout's format. It is what the nightly diff compares, what ``roster.io.roster_file`` writes and
what the snapshot stores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from roster.config import District, Layout
from roster.config.crossmatch import CrossMatch
from roster.fast.arrow import frame_of, parallel, repeat, text
from roster.rules.dates import format_dates, parse_dates

DATE_FIELDS = ("date_of_birth", "entry_date", "exit_date")
CODED_FIELDS = ("grade", "campus", "diagnosis")


def layout_fields(layout: Layout) -> list[str]:
    """The canonical fields the layout carries, in file order, without repeats."""
    return list(dict.fromkeys(c.field for c in layout.columns))


def reformat_dates(values: pa.ChunkedArray, source_format: str, target_format: str) -> pa.Array:
    """Dates in ``source_format`` re-rendered in ``target_format``; empty text where not a date.

    Each distinct value is parsed once (a roster has a few thousand distinct dates of birth), with
    the same strict parser the validator uses, then mapped back to the rows.
    """
    if len(values) == 0:
        return pa.array([], pa.large_string())
    encoded = pc.dictionary_encode(values).combine_chunks()
    distinct = encoded.dictionary.to_pandas()
    rendered = format_dates(parse_dates(distinct, source_format), target_format)
    return pc.take(rendered, encoded.indices)


def translate(values: pa.ChunkedArray, mapping: dict[str, str]) -> pa.ChunkedArray:
    """Codes through a cross-match table (a hash lookup against its few codes); empty where unmapped."""
    codes = pa.array(list(mapping), pa.large_string())
    targets = pa.array(list(mapping.values()), pa.large_string())
    return pc.fill_null(pc.take(targets, pc.index_in(values, value_set=codes)), "")


def roster_frame(accepted: pd.DataFrame, district: District, crossmatch: CrossMatch, layout: Layout) -> pd.DataFrame:
    """Accepted export rows as the roster file will show them (one text column per layout field).

    Column by column in Arrow: a field the file shows as read is the same memory as the export's
    column; translated codes and re-rendered dates are computed once per distinct value.
    """
    n = len(accepted)
    if n:
        status = text(accepted["status"])
        active_values = pa.array(district.source.status_values.active, pa.large_string())
        active = pc.is_in(status, value_set=active_values)
        active_flags = active.to_numpy(zero_copy_only=False)
    else:
        active, active_flags = None, np.zeros(0, dtype=bool)
    names = layout_fields(layout)
    # The frame's columns are read here; the fields are then computed in parallel, in Arrow only.
    sources = {
        name: text(accepted[name])
        for name in names
        if name in accepted.columns and name not in ("status", "district_id")
    }

    def column(name: str):
        if name == "status":
            return pc.if_else(active, layout.status_words.active, layout.status_words.inactive) if n else repeat("", 0)
        if name == "district_id":
            return repeat(district.district_id, n)
        if name not in sources:
            return repeat("", n)
        if name in DATE_FIELDS:
            return reformat_dates(sources[name], district.source.date_format, layout.date_format)
        if name in CODED_FIELDS:
            # District codes to Rethink Ed codes; an empty optional value (a diagnosis) stays empty.
            return translate(sources[name], crossmatch.for_field(name))
        return sources[name]

    columns = dict(zip(names, parallel(column, names), strict=True))
    frame = frame_of(columns, n)
    frame["active"] = active_flags
    return frame
