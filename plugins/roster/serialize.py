"""The vendor's pipe-delimited roster file, rendered from accepted rows and a layout, and read back.

Codes are translated through the cross-match tables, statuses become the layout's words, dates are
re-rendered in the layout's format. Rows are sorted by State Test Number (code-point order), so the
same input always renders byte-identical output. Values never need quoting: the validator rejects
any value holding a pipe, a line break or a control character.

In between sits the *roster frame*: one text column per layout field, exactly as the file shows it,
plus a boolean ``active``. It is what the nightly diff compares and what the snapshot stores.
"""

from __future__ import annotations

from pathlib import Path

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from roster import ids
from roster.arrowkit import data_of, frame_of, join_lines, parallel, release_memory, repeat, take, text
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
    sources = {name: text(accepted[name]) for name in names if name in accepted.columns and name not in ("status", "district_id")}

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

    columns = dict(zip(names, parallel(column, names)))
    frame = frame_of(columns, n)
    frame["active"] = active_flags
    return frame


def render(frame: pd.DataFrame, layout: Layout) -> bytes:
    """The whole roster file: one header line, then one line per row, sorted by State Test Number."""
    return render_lines(frame, layout).tobytes()


#: Lines put in order (and written) per step: bounds the memory of the ordered copy.
RENDER_BATCH = 1 << 18


@dataclass(frozen=True)
class RenderedRoster:
    """The roster file, ready to write: every line (the header first, then the frame's rows in the
    frame's order, in pieces) and the order to write them in (the header, then the rows by State
    Test Number)."""

    lines: pa.ChunkedArray
    order: np.ndarray

    def parts(self, rows: int = RENDER_BATCH) -> Iterator[memoryview]:
        """The file's bytes in consecutive pieces: each piece is one gather of ``rows`` lines."""
        for start in range(0, len(self.order), rows):
            piece = take(self.lines, self.order[start : start + rows])
            yield data_of(piece)
            del piece
            release_memory()  # the next piece reuses the same memory

    def tobytes(self) -> bytes:
        return b"".join(self.parts())


def render_lines(frame: pd.DataFrame, layout: Layout) -> RenderedRoster:
    """The roster file, rendered but not yet in order (``RenderedRoster.parts`` gives its bytes).

    The lines are joined in the frame's order: sequential memory access, row ranges on all cores.
    Putting them in id order is a gather done piece by piece as the file is written, straight from
    the joined pieces (each position resolved to its piece), so the file is never a second time
    whole in memory.
    """
    eol = layout.eol
    header = pa.array([SEPARATOR.join(c.header for c in layout.columns) + eol], pa.large_string())
    if len(frame) == 0:
        return RenderedRoster(pa.chunked_array([header]), np.zeros(1, dtype=np.int64))
    order = ids.sort_order(text(frame["state_test_number"])).to_numpy(zero_copy_only=False).astype(np.int64)
    lines = join_lines([text(frame[c.field]) for c in layout.columns], SEPARATOR, eol)
    return RenderedRoster(pa.chunked_array([header, *lines.chunks]), np.concatenate([[0], order + 1]))


def render_roster(accepted: pd.DataFrame, district: District, crossmatch: CrossMatch, layout: Layout) -> bytes:
    """Accepted export rows straight to the roster file's bytes."""
    return render(roster_frame(accepted, district, crossmatch, layout), layout)


def parse_roster(path: Path, layout: Layout) -> pd.DataFrame:
    """A delivered roster file read back into a roster frame (the inverse of ``render``)."""
    try:
        with path.open("rb") as handle:
            first = handle.readline()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    expected = [c.header for c in layout.columns]
    first_line = first.rstrip(b"\r\n").decode("utf-8", errors="replace")
    if first_line.split(SEPARATOR) != expected:
        raise InputError(f"{path}: line 1: not a roster file of layout {layout.name!r} (expected header {SEPARATOR.join(expected)})")
    names = [f"c{i}" for i in range(len(expected))]
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(delimiter=SEPARATOR, quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.large_string() for name in names}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(f"{path}: not a valid roster file ({str(exc).splitlines()[0]})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    columns = {}
    for i, column in enumerate(layout.columns):
        columns.setdefault(column.field, table[f"c{i}"])
    frame = frame_of(columns, table.num_rows)
    frame["active"] = _flags(pc.equal(columns["status"], layout.status_words.active), table.num_rows)
    return frame


def _flags(values: pa.ChunkedArray, rows: int) -> np.ndarray:
    return values.to_numpy(zero_copy_only=False).astype(bool, copy=False) if rows else np.zeros(0, dtype=bool)
