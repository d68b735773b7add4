"""The vendor's pipe-delimited roster file: rendered from a roster frame, and read back.

One header line, then one line per student sorted by State Test Number (code-point order), so the
same frame always renders byte-identical output. Values never need quoting: the rules reject any
value holding a pipe, a line break or a control character. ``parse_roster`` is the inverse: a
delivered file back into a roster frame (the ``--previous`` baseline and the snapshot).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from roster.config import Layout
from roster.errors import InputError
from roster.fast import ids
from roster.fast.arrow import bools, data_of, frame_of, join_lines, release_memory, take, text

SEPARATOR = "|"


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


def parse_roster(path: Path, layout: Layout) -> pd.DataFrame:
    """A delivered roster file read back into a roster frame (the inverse of ``render``)."""
    table = _read_columns(path, layout)
    columns: dict[str, pa.ChunkedArray] = {}
    for i, column in enumerate(layout.columns):
        columns.setdefault(column.field, table[f"c{i}"])
    frame = frame_of(columns, table.num_rows)
    frame["active"] = bools(pc.equal(columns["status"], layout.status_words.active))
    return frame


def roster_ids(path: Path, layout: Layout) -> set[str]:
    """The State Test Numbers in a roster file, reading only that column (no names or dates of birth)."""
    position = next(i for i, c in enumerate(layout.columns) if c.field == "state_test_number")
    return set(_read_columns(path, layout, only=[f"c{position}"])[f"c{position}"].to_pylist())


def check_header(path: Path, layout: Layout) -> None:
    """Refuse a file that cannot be read or is not a roster file of ``layout`` (its first line only)."""
    try:
        with path.open("rb") as handle:
            first = handle.readline()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    expected = [c.header for c in layout.columns]
    first_line = first.rstrip(b"\r\n").decode("utf-8", errors="replace")
    if first_line.split(SEPARATOR) != expected:
        raise InputError(
            f"{path}: line 1: not a roster file of layout {layout.name!r} (expected header {SEPARATOR.join(expected)})"
        )


def _read_columns(path: Path, layout: Layout, only: list[str] | None = None) -> pa.Table:
    """The roster file's columns ``c0``, ``c1``... (``only`` those named), after checking its header."""
    check_header(path, layout)
    names = [f"c{i}" for i in range(len(layout.columns))]
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(delimiter=SEPARATOR, quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.large_string() for name in names},
                strings_can_be_null=False,
                include_columns=only,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(f"{path}: not a valid roster file ({str(exc).splitlines()[0]})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return table
