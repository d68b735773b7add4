"""Byte-level scans of Arrow string buffers: questions about a column answered with numpy, no copy.

An Arrow string chunk is one data buffer of UTF-8 bytes and an offsets buffer saying where each value
starts. Reading both as numpy arrays (``offsets_and_data``) lets a scan look at every byte of a
column at once, and map a hit back to its value through the offsets (``values_at``), instead of
running a regular expression or a Python loop per value.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def offsets_and_data(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A string chunk's offsets (one more than its values, the slice's own) and its whole data buffer."""
    kind = np.int64 if pa.types.is_large_string(chunk.type) or pa.types.is_large_binary(chunk.type) else np.int32
    offsets = np.frombuffer(chunk.buffers()[1], dtype=kind)[chunk.offset : chunk.offset + len(chunk) + 1]
    data = chunk.buffers()[2]
    return offsets, np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)


def _body(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The offsets and the bytes of the chunk's values, back to back (empty for an empty chunk)."""
    if len(chunk) == 0:
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    offsets, data = offsets_and_data(chunk)
    return offsets, data[offsets[0] : offsets[-1]]


def values_at(offsets: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Per value: whether one of the byte ``positions`` (counted from the first value's start) is in it."""
    flags = np.zeros(len(offsets) - 1, dtype=bool)
    if positions.size:
        flags[np.searchsorted(offsets[1:] - offsets[0], positions, side="right")] = True
    return flags


def holds_bytes(chunk: pa.Array, wanted: bytes) -> bool:
    """Whether any value of a string chunk holds one of the ``wanted`` (ASCII) bytes."""
    _, body = _body(chunk)
    found = np.zeros(body.shape, dtype=bool)
    for byte in wanted:
        found |= body == byte
    return bool(found.any())


def has_surrounding_spaces(chunk: pa.Array) -> bool:
    """Whether any value starts or ends with a space (two gathers over the offsets)."""
    if len(chunk) == 0:
        return False
    offsets, data = offsets_and_data(chunk)
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts
    return bool((data[starts[filled]] == 0x20).any() or (data[ends[filled] - 1] == 0x20).any())


def forbidden_values(chunk: pa.Array) -> np.ndarray:
    """Per value: holds a pipe or a control character (C0, DEL or C1).

    In UTF-8 these characters are exactly the bytes 0x00-0x1F, 0x7C and 0x7F (never part of a longer
    character) and the pairs 0xC2 0x80-0x9F.
    """
    offsets, body = _body(chunk)
    hits = np.flatnonzero((body < 0x20) | (body == 0x7C) | (body == 0x7F))
    lead = np.flatnonzero(body[:-1] == 0xC2)
    c1 = lead[body[lead + 1] <= 0x9F]
    return values_at(offsets, np.concatenate([hits, c1]) if c1.size else hits)


def nfc_candidates(chunk: pa.Array) -> np.ndarray:
    """Per value: whether NFC normalization could change it.

    Every string of code points below U+0300 (ASCII, Latin-1, Latin Extended, IPA) is already NFC:
    only combining marks and later code points can compose or decompose. In UTF-8 those are the
    values holding a byte from 0xCC up (a lead byte of U+0300 or later).
    """
    offsets, body = _body(chunk)
    return values_at(offsets, np.flatnonzero(body >= 0xCC))


def starts_with_any(chunk: pa.Array, wanted: bytes) -> bool:
    """Whether any value of a string chunk starts with one of the ``wanted`` (ASCII) bytes (one gather)."""
    if len(chunk) == 0:
        return False
    offsets, data = offsets_and_data(chunk)
    starts = offsets[:-1][offsets[1:] > offsets[:-1]]
    table = np.zeros(256, dtype=bool)
    table[np.frombuffer(wanted, dtype=np.uint8)] = True
    return bool(table[data[starts]].any())
