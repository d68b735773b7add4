"""The vendor's pipe-delimited roster file, rendered from accepted rows and a layout.

Codes are translated through the cross-match tables, statuses become the layout's words, dates are
re-rendered in the layout's format. Rows are sorted by State Test Number (code-point order), so the
same input always renders byte-identical output. Values never need quoting: the validator rejects
any value holding a pipe, a line break or a control character.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from roster.config import District, Layout
from roster.crossmatch import CrossMatch
from roster.dates import format_dates, parse_dates

DATE_FIELDS = ("date_of_birth", "entry_date", "exit_date")
CODED_FIELDS = ("grade", "campus", "diagnosis")


def _translate(values: pd.Series, table: dict[str, str]) -> pa.Array:
    """District codes to Rethink Ed codes; an empty value (an optional diagnosis) stays empty."""
    return pa.array(values.map(table).fillna("").to_numpy(dtype=object), pa.string())


def roster_values(frame: pd.DataFrame, district: District, crossmatch: CrossMatch, layout: Layout) -> dict[str, pa.Array]:
    """Every layout field as output text, one Arrow array per field, in the frame's row order."""
    n = len(frame)
    active = frame["status"].isin(district.source.status_values.active).to_numpy()
    out: dict[str, pa.Array] = {
        "status": pc.if_else(pa.array(active), layout.status_words.active, layout.status_words.inactive),
        "district_id": pa.array([district.district_id] * n, pa.string()),
    }
    for column in layout.columns:
        name = column.field
        if name in out:
            continue
        if name not in frame.columns:
            out[name] = pa.array([""] * n, pa.string())
        elif name in DATE_FIELDS:
            out[name] = format_dates(parse_dates(frame[name], district.source.date_format), layout.date_format)
        elif name in CODED_FIELDS:
            out[name] = _translate(frame[name], crossmatch.for_field(name))
        else:
            out[name] = pa.array(frame[name].to_numpy(dtype=object), pa.string())
    return out


def render_roster(frame: pd.DataFrame, district: District, crossmatch: CrossMatch, layout: Layout) -> bytes:
    """The whole roster file: one header line, then one line per row, sorted by State Test Number."""
    order = pc.sort_indices(pa.array(frame["state_test_number"].to_numpy(dtype=object), pa.string()))
    values = roster_values(frame, district, crossmatch, layout)
    columns = [pc.take(values[c.field], order) for c in layout.columns]
    eol = layout.eol
    header = "|".join(c.header for c in layout.columns) + eol
    if len(frame) == 0:
        return header.encode("utf-8")
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*columns, "|"), eol, "")
    return header.encode("utf-8") + _concat(lines)


def _concat(lines: pa.Array) -> bytes:
    """All strings of an Arrow array back to back, straight from its data buffer (no Python loop)."""
    lines = pa.concat_arrays([lines]) if isinstance(lines, pa.ChunkedArray) else lines
    lines = lines.cast(pa.large_string()) if lines.type == pa.string() else lines
    offsets = lines.buffers()[1]
    data = lines.buffers()[2]
    import numpy as np

    bounds = np.frombuffer(offsets, dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    return data.to_pybytes()[bounds[0] : bounds[-1]]
