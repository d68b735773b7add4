"""Arrow plumbing shared by the night's steps: text columns without copies, both cores, CSV bytes.

pandas' ``str`` columns are Arrow ``large_string`` arrays underneath, so a frame's column and an
Arrow array convert both ways without copying the strings (``text``, ``frame_of``). Arrow's compute
kernels release the GIL, so independent columns are processed on all cores (``parallel``).
pandas is imported only by the functions that make or read frames.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from roster.fast.cells import needs_neutralizing, neutralize, neutralized
from roster.fast.scans import holds_bytes, offsets_and_data

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")
R = TypeVar("R")


def _use_jemalloc() -> None:
    """Arrow's jemalloc pool for the night's big allocations, unless ``ARROW_DEFAULT_MEMORY_POOL`` says otherwise.

    The night frees and reuses large buffers step after step (``release_memory`` between steps); the
    default mimalloc pool faults those pages back in from the kernel each time, jemalloc reuses them
    (docs/DECISIONS.md). Wheels without jemalloc keep the default.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    with contextlib.suppress(NotImplementedError, pa.ArrowNotImplementedError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())


_use_jemalloc()

#: Threads for column-parallel work: the machine's cores (Arrow kernels run outside the GIL).
WORKERS = max(1, min(os.cpu_count() or 1, 8))


_inside = threading.local()


def _pooled(function: Callable[..., R]) -> Callable[..., R]:
    def run(*args):
        _inside.worker = True
        return function(*args)

    return run


@functools.cache
def _executor() -> ThreadPoolExecutor:
    """The process's one pool, made on first use."""
    return ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="roster-arrow")


def parallel(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[function(item) for item in items]``, the items spread over the cores, in order.

    Called from a pool thread (nested), it runs in that thread: a task never waits on the pool.
    """
    items = list(items)
    if WORKERS == 1 or len(items) < 2 or getattr(_inside, "worker", False):
        return [function(item) for item in items]
    return list(_executor().map(_pooled(function), items))


def bools(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean array as numpy bools (a null reads as False)."""
    return values.to_numpy(zero_copy_only=False).astype(bool, copy=False) if len(values) else np.zeros(0, dtype=bool)


def release_memory() -> None:
    """Give the memory Arrow freed back to the system, so a step's peak is its own, not the sum."""
    pa.default_memory_pool().release_unused()


def text(values: pd.Series) -> pa.ChunkedArray:
    """The Arrow strings behind a text column: zero-copy for pandas' Arrow-backed ``str`` columns."""
    import pandas as pd

    array = values.array
    if isinstance(values.dtype, (pd.StringDtype, pd.ArrowDtype)) and hasattr(array, "__arrow_array__"):
        data = array.__arrow_array__()
        data = data if isinstance(data, pa.ChunkedArray) else pa.chunked_array([data])
        if pa.types.is_large_string(data.type):
            return data
        if pa.types.is_string(data.type):
            return data.cast(pa.large_string())
    return pa.chunked_array([pa.array(values.to_numpy(dtype=object, na_value=""), pa.large_string(), from_pandas=True)])


def frame_of(columns: dict[str, pa.Array | pa.ChunkedArray], rows: int) -> pd.DataFrame:
    """Arrow string columns as a pandas frame of ``str`` columns, without copying the strings."""
    import pandas as pd

    if not columns:
        return pd.DataFrame(index=pd.RangeIndex(rows))
    table = pa.table({name: values.cast(pa.large_string()) for name, values in columns.items()})
    frame = table.to_pandas()
    frame.index = pd.RangeIndex(rows)
    return frame


#: Positions gathered per step by ``take``: bounds its temporary memory.
TAKE_STEP = 1 << 18


def take(values: pa.ChunkedArray | pa.Array, indices) -> pa.Array | pa.ChunkedArray:
    """``values.take(indices)`` without Arrow's concatenation of a chunked array's string chunks.

    Arrow gathers from a chunked string array by first concatenating all its chunks (the whole
    column, again, in memory); here the positions are taken in steps, each position resolved to
    its chunk, each chunk gathering its own rows, the pieces put back in the order asked.
    """
    positions = np.asarray(
        indices.to_numpy(zero_copy_only=False) if isinstance(indices, (pa.Array, pa.ChunkedArray)) else indices
    )
    positions = positions.astype(np.int64, copy=False)
    if isinstance(values, pa.Array):
        return values.take(pa.array(positions, pa.int64()))
    chunks = [chunk for chunk in values.chunks if len(chunk)]
    if len(chunks) <= 1 or len(positions) == 0:
        single = chunks[0] if chunks else pa.array([], values.type)
        return single.take(pa.array(positions, pa.int64()))
    starts = np.cumsum([0] + [len(chunk) for chunk in chunks])
    steps = [_take_step(chunks, starts, positions[at : at + TAKE_STEP]) for at in range(0, len(positions), TAKE_STEP)]
    return steps[0] if len(steps) == 1 else pa.chunked_array(steps, values.type)


def _take_step(chunks: list[pa.Array], starts: np.ndarray, positions: np.ndarray) -> pa.Array:
    owner = np.searchsorted(starts, positions, side="right") - 1
    grouped = np.argsort(owner, kind="stable")
    counts = np.bincount(owner, minlength=len(chunks))
    pieces, at = [], 0
    for k in np.flatnonzero(counts):
        rows = grouped[at : at + counts[k]]
        pieces.append(chunks[k].take(pa.array(positions[rows] - starts[k], pa.int64())))
        at += counts[k]
    gathered = pa.concat_arrays(pieces) if len(pieces) > 1 else pieces[0]
    if np.all(grouped[1:] > grouped[:-1]):
        return gathered  # asked in chunk order already
    back = np.empty(len(grouped), dtype=np.int64)
    back[grouped] = np.arange(len(grouped), dtype=np.int64)
    return gathered.take(pa.array(back, pa.int64()))


def rows_of(frame: pd.DataFrame, rows) -> pd.DataFrame:
    """``frame.iloc[rows]`` (index reset) with text columns gathered by ``take``."""
    import pandas as pd

    rows = np.asarray(rows, dtype=np.int64)
    out = {}
    for name in frame.columns:
        series = frame[name]
        if isinstance(series.dtype, pd.StringDtype) and hasattr(series.array, "__arrow_array__"):
            out[name] = frame_of({"c": take(text(series), rows)}, len(rows))["c"]
        else:
            out[name] = pd.Series(series.to_numpy()[rows], dtype=series.dtype)
    return pd.DataFrame(out, index=pd.RangeIndex(len(rows)))


def large(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def repeat(value: str, rows: int) -> pa.Array:
    """``rows`` times the same string (buffers built with numpy: ``pa.repeat`` goes value by value)."""
    encoded = value.encode("utf-8")
    offsets = np.arange(rows + 1, dtype=np.int64) * len(encoded) if encoded else np.zeros(rows + 1, dtype=np.int64)
    return pa.Array.from_buffers(pa.large_string(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(encoded * rows)])


def data_of(lines: pa.Array | pa.ChunkedArray) -> memoryview:
    """All strings of an Arrow array back to back, straight from its data buffer (no copy)."""
    if isinstance(lines, pa.ChunkedArray):
        lines = pa.concat_arrays(lines.chunks) if lines.num_chunks != 1 else lines.chunk(0)
    if len(lines) == 0:
        return memoryview(b"")
    offsets, _ = offsets_and_data(lines)
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]]


def aligned(columns: list[pa.ChunkedArray | pa.Array]) -> list[list[pa.Array]]:
    """The columns cut into the same row ranges (zero-copy slices): ranges[k] holds each column's
    k-th piece. The ranges are the first column's chunks (the reader's blocks)."""
    boundaries = [0]
    first = columns[0]
    for chunk in first.chunks if isinstance(first, pa.ChunkedArray) else [first]:
        if len(chunk):
            boundaries.append(boundaries[-1] + len(chunk))
    pieces: list[list[pa.Array]] = [[] for _ in range(len(boundaries) - 1)]
    for column in columns:
        chunked = column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])
        for k in range(len(boundaries) - 1):
            piece = chunked.slice(boundaries[k], boundaries[k + 1] - boundaries[k])
            pieces[k].append(piece.chunk(0) if piece.num_chunks == 1 else piece.combine_chunks())
    return pieces


def join_lines(columns: list[pa.ChunkedArray | pa.Array], separator: str, eol: str) -> pa.ChunkedArray:
    """Each row's values joined by ``separator`` and ended by ``eol``: one string per row.

    The columns are cut into the same row ranges and the ranges joined in parallel, each from
    contiguous memory.
    """

    def join(part: list[pa.Array]) -> pa.Array:
        part = list(part)
        part[-1] = pc.binary_join_element_wise(part[-1], large(eol), large(""))
        return pc.binary_join_element_wise(*part, large(separator))

    joined = parallel(join, aligned(columns)) if len(columns[0]) else []
    return pa.chunked_array(joined, pa.large_string())


#: Values a report quotes: a delimiter, a quote, a line feed or a carriage return (a bare CR ends a
#: row for Excel and for Python's csv reader, so a value holding one is quoted like a line feed).
_NEEDS_QUOTES = '[,"\n\r]'
#: Below this many rows pandas' own writer is used (it is the reference; the fast path matches it).
CSV_FAST_ROWS = 2048


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A report CSV: ``frame.to_csv(index=False, lineterminator="\\n")`` as UTF-8 bytes, its text
    values neutralized for spreadsheets (``roster.fast.cells``), vectorized in Arrow.

    Same bytes as pandas on the neutralized frame (the csv module's minimal quoting: a value holding
    a comma, a quote, a line feed or a carriage return is quoted, quotes doubled; rows end in a line
    feed) for text and integer columns; pandas itself writes other frames and small ones. Integers
    need no neutralizing (``-1`` is a number).
    """
    import pandas as pd

    simple = all(pd.api.types.is_integer_dtype(t) or isinstance(t, pd.StringDtype) for t in frame.dtypes)
    if len(frame) < CSV_FAST_ROWS or not simple or frame.columns.has_duplicates:
        return _lf_rows(_neutral_frame(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8"))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([str(c) for c in frame.columns])
    header = _lf_rows(buffer.getvalue().encode("utf-8"))

    def column(name: str) -> pa.ChunkedArray:
        series = frame[name]
        if pd.api.types.is_integer_dtype(series.dtype):
            return pa.chunked_array([pc.cast(pa.array(series.to_numpy()), pa.large_string())])
        values = neutralized(pc.fill_null(text(series), ""))  # pandas writes a missing value as nothing
        if any(holds_bytes(chunk, b',"\n\r') for chunk in values.chunks):
            special = pc.match_substring_regex(values, _NEEDS_QUOTES)
            quoted = pc.binary_join_element_wise(
                large('"'), pc.replace_substring(values, '"', '""'), large('"'), large("")
            )
            values = pc.if_else(special, quoted, values)
        return values

    columns = parallel(column, list(frame.columns))
    lines = join_lines(columns, ",", "\n")
    return b"".join([header, *(data_of(chunk) for chunk in lines.chunks)])


def _neutral_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its text values neutralized, value by value (pandas' path of ``csv_bytes``:
    small frames, or frames of other dtypes); the frame itself when no value needs it."""
    import pandas as pd

    neutral = frame
    for at in range(frame.shape[1]):
        series = frame.iloc[:, at]
        if isinstance(series.dtype, pd.StringDtype) and not needs_neutralizing(text(series)):
            continue
        if isinstance(series.dtype, pd.StringDtype) or series.dtype == object:
            if neutral is frame:
                neutral = frame.copy()
            neutral.isetitem(at, series.map(lambda v: neutralize(v) if isinstance(v, str) else v, na_action="ignore"))
    return neutral


def _lf_rows(data: bytes) -> bytes:
    """CSV written with ``\\r\\n`` row ends (so the csv module quotes a value holding a CR) with ``\\n`` ones.

    A ``\\r\\n`` ends a row where an even number of quotes comes before it (outside a quoted value:
    a doubled quote inside one adds two); the one inside a quoted value is the value's own.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    quotes = np.cumsum(raw == 0x22)
    pairs = np.flatnonzero((raw[:-1] == 0x0D) & (raw[1:] == 0x0A))
    ends = pairs[quotes[pairs] % 2 == 0]
    if not ends.size:
        return data
    keep = np.ones(len(raw), dtype=bool)
    keep[ends] = False
    return raw[keep].tobytes()
