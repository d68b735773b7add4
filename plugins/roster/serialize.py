"""The vendor's pipe-delimited roster file, rendered from accepted rows and a layout, and read back.

Codes are translated through the cross-match tables, statuses become the layout's words, dates are
re-rendered in the layout's format. Rows are sorted by State Test Number (code-point order), so the
same input always renders byte-identical output. Values never need quoting: the validator rejects
any value holding a pipe, a line break or a control character.

In between sits the *roster frame*: one text column per layout field, exactly as the file shows it,
plus a boolean ``active``. It is what the nightly diff compares and what the snapshot stores.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from roster.config import District, Layout
from roster.crossmatch import CrossMatch
from roster.dates import format_dates, parse_dates
from roster.errors import InputError

DATE_FIELDS = ("date_of_birth", "entry_date", "exit_date")
CODED_FIELDS = ("grade", "campus", "diagnosis")
SEPARATOR = "|"


def layout_fields(layout: Layout) -> list[str]:
    """The canonical fields the layout carries, in file order, without repeats."""
    return list(dict.fromkeys(c.field for c in layout.columns))


def _text(values: pd.Series) -> pa.Array:
    return pa.array(values.to_numpy(dtype=object), pa.string())


def roster_frame(accepted: pd.DataFrame, district: District, crossmatch: CrossMatch, layout: Layout) -> pd.DataFrame:
    """Accepted export rows as the roster file will show them (one text column per layout field)."""
    n = len(accepted)
    active = accepted["status"].isin(district.source.status_values.active).to_numpy(dtype=bool)
    columns: dict[str, object] = {}
    for name in layout_fields(layout):
        if name == "status":
            values = np.where(active, layout.status_words.active, layout.status_words.inactive)
        elif name == "district_id":
            values = np.full(n, district.district_id, dtype=object)
        elif name not in accepted.columns:
            values = np.full(n, "", dtype=object)
        elif name in DATE_FIELDS:
            values = format_dates(parse_dates(accepted[name], district.source.date_format), layout.date_format).to_numpy(zero_copy_only=False)
        elif name in CODED_FIELDS:
            # District codes to Rethink Ed codes; an empty optional value (a diagnosis) stays empty.
            values = accepted[name].map(crossmatch.for_field(name)).fillna("").to_numpy(dtype=object)
        else:
            values = accepted[name].to_numpy(dtype=object)
        columns[name] = pd.array(values, dtype="str")
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n))
    frame["active"] = active
    return frame


def render(frame: pd.DataFrame, layout: Layout) -> bytes:
    """The whole roster file: one header line, then one line per row, sorted by State Test Number."""
    eol = layout.eol
    header = (SEPARATOR.join(c.header for c in layout.columns) + eol).encode("utf-8")
    if len(frame) == 0:
        return header
    order = pc.sort_indices(_text(frame["state_test_number"]))
    columns = [pc.take(_text(frame[c.field]), order) for c in layout.columns]
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*columns, SEPARATOR), eol, "")
    return header + _concat(lines)


def render_roster(accepted: pd.DataFrame, district: District, crossmatch: CrossMatch, layout: Layout) -> bytes:
    """Accepted export rows straight to the roster file's bytes."""
    return render(roster_frame(accepted, district, crossmatch, layout), layout)


def _concat(lines: pa.Array) -> bytes:
    """All strings of an Arrow array back to back, straight from its data buffer (no Python loop)."""
    if isinstance(lines, pa.ChunkedArray):
        lines = pa.concat_arrays(lines.chunks)
    if lines.type == pa.string():
        lines = lines.cast(pa.large_string())
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    return lines.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]


def parse_roster(path: Path, layout: Layout) -> pd.DataFrame:
    """A delivered roster file read back into a roster frame (the inverse of ``render``)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    expected = [c.header for c in layout.columns]
    first_line = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", errors="replace")
    if first_line.split(SEPARATOR) != expected:
        raise InputError(f"{path}: line 1: not a roster file of layout {layout.name!r} (expected header {SEPARATOR.join(expected)})")
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=[f"c{i}" for i in range(len(expected))], skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=SEPARATOR, quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types={f"c{i}": pa.string() for i in range(len(expected))}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(f"{path}: not a valid roster file ({str(exc).splitlines()[0]})") from None
    columns = {}
    for i, column in enumerate(layout.columns):
        columns.setdefault(column.field, pd.array(table[f"c{i}"].to_numpy(zero_copy_only=False), dtype="str"))
    frame = pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))
    frame["active"] = (frame["status"] == layout.status_words.active).to_numpy(dtype=bool)
    return frame
