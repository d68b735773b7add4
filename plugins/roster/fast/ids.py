"""State Test Numbers as integers: sorting, duplicates and the nightly join at numpy speed.

Sorting or hashing millions of strings is the slowest thing a night does (Arrow's string sort and
hash join take seconds at 5M rows); sorting as many 64-bit integers takes a tenth of that. An id
is packed into one ``uint64`` whose order and equality are exactly the strings' (byte order, a
prefix before its extensions) when its alphabet and length allow:

* digits only, up to 18 characters (base 11: each digit d is d + 1, 0 pads the end);
* ASCII letters and digits, up to 10 characters (base 63, in byte order: digits, A-Z, a-z);
* any bytes but NUL, up to 8 (base 256).

Ids that do not fit (rare: a malformed id in an export) are handled as strings, apart, or the whole
operation falls back to Arrow's string kernels. Every function here gives the same answer as the
plain string operation it replaces.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from roster.fast.arrow import take
from roster.fast.scans import offsets_and_data

#: (name, base, longest id that fits, symbol of each byte (0: not in the alphabet))
_DIGITS = np.zeros(256, dtype=np.uint64)
_DIGITS[ord("0") : ord("9") + 1] = np.arange(1, 11, dtype=np.uint64)
_ALNUM = np.zeros(256, dtype=np.uint64)
_ALNUM[ord("0") : ord("9") + 1] = np.arange(1, 11, dtype=np.uint64)
_ALNUM[ord("A") : ord("Z") + 1] = np.arange(11, 37, dtype=np.uint64)
_ALNUM[ord("a") : ord("z") + 1] = np.arange(37, 63, dtype=np.uint64)
_BYTES = np.arange(256, dtype=np.uint64)
ENCODINGS = (("digits", 11, 18, _DIGITS), ("alnum", 63, 10, _ALNUM), ("bytes", 256, 8, _BYTES))

#: Rows gathered per step when ids have different lengths (bounds the index matrix's memory).
_STEP = 1 << 18


@dataclass(frozen=True)
class Keys:
    """``keys[i]`` packs id ``i`` when ``fits[i]``; ``keys`` of ids that do not fit are 0."""

    keys: np.ndarray
    fits: np.ndarray

    @property
    def all_fit(self) -> bool:
        return bool(self.fits.all())


def _pieces(values: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    """The chunks of ``values`` as large_string arrays (worked on one by one: never concatenated)."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    pieces = [c if pa.types.is_large_string(c.type) else c.cast(pa.large_string()) for c in chunks if len(c)]
    return pieces or [pa.array([], pa.large_string())]


def _each(function, pieces: list[pa.Array], *per_piece) -> np.ndarray:
    """``function`` on every piece (with its slice of each ``per_piece`` array), results concatenated."""
    out, at = [], 0
    for piece in pieces:
        out.append(function(piece, *(a[at : at + len(piece)] for a in per_piece)))
        at += len(piece)
    return np.concatenate(out)


def _choose(arrays: list[list[pa.Array]]) -> tuple[tuple[str, int, int, np.ndarray], list[np.ndarray]] | None:
    """The narrowest encoding that fits (nearly) every id of all ``arrays`` together, and which fit.

    First choice: ids of one length, digits only (the usual State Test Number), whose integer value
    orders them as their text does (same length), parsed by Arrow in one pass.
    """
    total = sum(len(p) for pieces in arrays for p in pieces)
    allowed = total - max(16, total // 1000)
    lengths = [_each(lambda p: np.diff(offsets_and_data(p)[0]), pieces) for pieces in arrays]
    counts = np.bincount(np.concatenate(lengths)) if total else np.zeros(1, dtype=np.int64)
    usual = int(counts.argmax())
    if 0 < usual <= 19 and counts[usual] >= allowed:
        fits = [
            _each(lambda p: _fitting(p, usual, _DIGITS), pieces) & (n == usual)
            for pieces, n in zip(arrays, lengths, strict=True)
        ]
        if sum(int(np.count_nonzero(f)) for f in fits) >= allowed:
            return ("number", 10, usual, _DIGITS), fits
    for encoding in ENCODINGS:
        _, _, width, symbols = encoding
        fits = [_each(functools.partial(_fitting, width=width, symbols=symbols), pieces) for pieces in arrays]
        if sum(int(np.count_nonzero(f)) for f in fits) >= allowed:
            return encoding, fits
    return None


def _fitting(values: pa.Array, width: int, symbols: np.ndarray) -> np.ndarray:
    """Per id: all its bytes are in the alphabet and it is at most ``width`` long."""
    offsets, data = offsets_and_data(values)
    fits = np.diff(offsets) <= width
    body = data[offsets[0] : offsets[-1]]
    if body.size == 0:
        return fits
    # For digits, two comparisons beat a table lookup per byte.
    outside = ((body < 0x30) | (body > 0x39)) if symbols is _DIGITS else (symbols == 0)[body]
    if outside.any():
        # The ids holding a byte outside the alphabet (usually a few malformed ones).
        owners = np.searchsorted(offsets[1:] - offsets[0], np.flatnonzero(outside), side="right")
        fits[owners] = False
    return fits


def _number(values: pa.Array, fits: np.ndarray) -> np.ndarray:
    """Digit ids of one length: their integer values (Arrow parses them)."""
    if fits.all():
        return pc.cast(values, pa.uint64()).to_numpy(zero_copy_only=False).astype(np.uint64, copy=False)
    keys = np.zeros(len(values), dtype=np.uint64)
    rows = np.flatnonzero(fits)
    if len(rows):
        keys[rows] = pc.cast(values.take(pa.array(rows, pa.int64())), pa.uint64()).to_numpy(zero_copy_only=False)
    return keys


def _pack(values: pa.Array, fits: np.ndarray, base: int, width: int, symbols: np.ndarray) -> np.ndarray:
    offsets, data = offsets_and_data(values)
    lengths = np.diff(offsets)
    keys = np.zeros(len(values), dtype=np.uint64)
    b = np.uint64(base)
    uniform = len(values) and fits.all() and lengths.min() == lengths.max()
    if uniform:
        # Every id has the same length: the data buffer is an (ids x length) matrix, no gather.
        length = int(lengths[0])
        matrix = data[offsets[0] : offsets[-1]].reshape(len(values), length)
        for j in range(length):
            keys *= b
            keys += symbols[matrix[:, j]]
        keys *= b ** np.uint64(width - length)
        return keys
    rows = np.flatnonzero(fits)
    for length in np.unique(lengths[rows]):
        chosen = rows[lengths[rows] == length]
        for start in range(0, len(chosen), _STEP):
            part = chosen[start : start + _STEP]
            packed = np.zeros(len(part), dtype=np.uint64)
            if length:
                matrix = data[offsets[part][:, None] + np.arange(int(length))[None, :]]
                for j in range(int(length)):
                    packed *= b
                    packed += symbols[matrix[:, j]]
            packed *= b ** np.uint64(width - int(length))
            keys[part] = packed
    return keys


def keys_of(*arrays: pa.Array | pa.ChunkedArray) -> list[Keys] | None:
    """Keys for the ids of each array, in one encoding (so keys compare across the arrays);
    None when the ids are not ids (too many do not fit any encoding)."""
    pieces = [_pieces(a) for a in arrays]
    chosen = _choose(pieces)
    if chosen is None:
        return None
    (name, base, width, symbols), fits = chosen
    if name == "number":
        return [Keys(_each(_number, p, f), f) for p, f in zip(pieces, fits, strict=True)]
    return [
        Keys(_each(lambda v, g: _pack(v, g, base, width, symbols), p, f), f) for p, f in zip(pieces, fits, strict=True)
    ]


def _argsort(keys: np.ndarray) -> np.ndarray:
    """``np.argsort``, stable where it matters: equal keys keep their order (as Arrow's sort)."""
    order = np.argsort(keys, kind="quicksort")
    ordered = keys[order]
    if len(ordered) > 1 and (ordered[1:] == ordered[:-1]).any():
        order = np.argsort(keys, kind="stable")
    return order


def sort_order(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``pc.sort_indices(ids)`` (stable, byte order), computed on integer keys when they fit."""
    packed = keys_of(ids)
    if packed is None or not packed[0].all_fit:
        return pc.sort_indices(ids)
    return pa.array(_argsort(packed[0].keys).astype(np.uint64), pa.uint64())


def duplicated(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per id: another position holds the same id (every one of them is flagged)."""
    n = len(ids)
    flags = np.zeros(n, dtype=bool)
    if n < 2:
        return flags
    packed = keys_of(ids)
    if packed is None:
        return _duplicated_strings(ids)
    keys, fits = packed[0].keys, packed[0].fits
    rows = np.flatnonzero(fits) if not fits.all() else None
    subset = keys if rows is None else keys[rows]
    order = np.argsort(subset, kind="quicksort")
    ordered = subset[order]
    same = ordered[1:] == ordered[:-1]
    if same.any():
        repeated = np.zeros(len(subset), dtype=bool)
        repeated[1:] |= same
        repeated[:-1] |= same
        hit = np.zeros(len(subset), dtype=bool)
        hit[order] = repeated
        if rows is None:
            flags = hit
        else:
            flags[rows] = hit
    if rows is not None:
        # The ids that do not fit can only equal each other: a few, compared as strings.
        others = np.flatnonzero(~fits)
        flags[others] = _duplicated_strings(take(ids, others))
    return flags


def _duplicated_strings(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    n = len(ids)
    flags = np.zeros(n, dtype=bool)
    if n < 2:
        return flags
    order = pc.sort_indices(ids)
    ordered = take(ids, order)
    same = pc.equal(ordered.slice(1), ordered.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    if same.any():
        repeated = np.zeros(n, dtype=bool)
        repeated[1:] |= same
        repeated[:-1] |= same
        flags[order.to_numpy(zero_copy_only=False)] = repeated
    return flags


def positions(ids: pa.Array | pa.ChunkedArray, among: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """For each of ``ids``: its position in ``among`` (ids unique there), or -1: the keyed join.

    ``pc.index_in`` (a hash join on strings), done as a sort-merge on integer keys: ``among`` is
    sorted once (a delivered roster usually is already), then every id is found by binary search.
    """
    n = len(ids)
    out = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(among) == 0:
        return out
    packed = keys_of(ids, among)
    if packed is None:
        return pc.fill_null(pc.index_in(ids, value_set=among), -1).to_numpy(zero_copy_only=False).astype(np.int64)
    mine, theirs = packed
    candidates = np.flatnonzero(theirs.fits)
    table = theirs.keys if theirs.all_fit else theirs.keys[candidates]
    if len(table) > 1 and bool((table[1:] >= table[:-1]).all()):
        order = None
        ordered = table
    else:
        order = _argsort(table)
        ordered = table[order]
    wanted = np.flatnonzero(mine.fits) if not mine.all_fit else None
    queries = mine.keys if wanted is None else mine.keys[wanted]
    # Binary searches in sorted order touch memory in order, where random probes miss the cache.
    asked = np.argsort(queries, kind="quicksort")
    queries = queries[asked]
    at = np.searchsorted(ordered, queries)
    inside = at < len(ordered)
    found = np.zeros(len(queries), dtype=bool)
    found[inside] = ordered[at[inside]] == queries[inside]
    hits = at[found]
    if order is not None:
        hits = order[hits]
    if not theirs.all_fit:
        hits = candidates[hits]
    rows = asked[found] if wanted is None else wanted[asked[found]]
    out[rows] = hits
    if not mine.all_fit and not theirs.all_fit:
        # Ids that do not fit can only match each other: a few, joined as strings.
        left = np.flatnonzero(~mine.fits)
        right = np.flatnonzero(~theirs.fits)
        found_right = pc.index_in(take(ids, left), value_set=take(among, right))
        matched = pc.fill_null(found_right, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        out[left[matched >= 0]] = right[matched[matched >= 0]]
    return out
