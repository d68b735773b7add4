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


def first_bytes(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Per value: its first byte (any byte for an empty value) and whether it is non-empty (one
    gather over the offsets)."""
    offsets, data = offsets_and_data(chunk) if len(chunk) else (np.zeros(1, dtype=np.int64), None)
    filled = offsets[1:] > offsets[:-1]
    if data is None or not data.size:
        return np.zeros(len(chunk), dtype=np.uint8), filled
    return data[np.minimum(offsets[:-1], data.size - 1)], filled


def starts_with_any(chunk: pa.Array, wanted: bytes) -> np.ndarray:
    """Per value: whether its first byte is one of the ``wanted`` (ASCII) bytes."""
    table = np.zeros(256, dtype=bool)
    table[np.frombuffer(wanted, dtype=np.uint8)] = True
    first, filled = first_bytes(chunk)
    return filled & table[first]


def _after(body: np.ndarray, positions: np.ndarray, step: int) -> np.ndarray:
    """The byte ``step`` places after each position (0 past the end)."""
    following = positions + step
    inside = following < body.size
    found = np.zeros(positions.size, dtype=np.uint8)
    found[inside] = body[following[inside]]
    return found


#: The characters after U+007F that ``forbidden_values`` finds, as (lead byte, second byte, third bytes
#: or None for a two-byte character): C1 controls (NEL among them), the Unicode line and paragraph
#: separators, and the bidirectional controls (LRM, RLM, ALM, LRE..RLO, LRI..PDI).
_FORBIDDEN_SEQUENCES: tuple[tuple[int, range, range | None], ...] = (
    (0xC2, range(0x80, 0xA0), None),  # U+0080-U+009F: C1 controls
    (0xD8, range(0x9C, 0x9D), None),  # U+061C: ARABIC LETTER MARK
    (0xE2, range(0x80, 0x81), range(0x8E, 0x90)),  # U+200E, U+200F: LRM, RLM
    (0xE2, range(0x80, 0x81), range(0xA8, 0xAF)),  # U+2028, U+2029 (line, paragraph), U+202A-U+202E
    (0xE2, range(0x81, 0x82), range(0xA6, 0xAA)),  # U+2066-U+2069: LRI, RLI, FSI, PDI
)


def _forbidden_sequences(body: np.ndarray) -> np.ndarray:
    """Byte positions of the forbidden characters beyond ASCII (``_FORBIDDEN_SEQUENCES``).

    Only the lead bytes 0xC2, 0xD8 and 0xE2 are looked at (none in an ASCII column, a pass finds
    that), then their next bytes.
    """
    if not body.size or body.max() < 0xC2:  # most columns are ASCII: one pass says so
        return np.zeros(0, dtype=np.int64)
    leads = np.flatnonzero(((body & 0xDF) == 0xC2) | (body == 0xD8))  # 0xC2, 0xE2 (= 0xC2 | 0x20) or 0xD8
    first, second, third = body[leads], _after(body, leads, 1), _after(body, leads, 2)
    hit = np.zeros(leads.size, dtype=bool)
    for lead, seconds, thirds in _FORBIDDEN_SEQUENCES:
        match = (first == lead) & (second >= seconds.start) & (second < seconds.stop)
        if thirds is not None:
            match &= (third >= thirds.start) & (third < thirds.stop)
        hit |= match
    return leads[hit]


def forbidden_values(chunk: pa.Array) -> np.ndarray:
    """Per value: holds a character that breaks the pipe file or the programs that read it, or starts
    with a double quote.

    Forbidden: the pipe, the C0 controls (CR and LF among them), DEL, the C1 controls, the Unicode
    line and paragraph separators, and the bidirectional controls. In UTF-8 the ASCII ones are exactly
    the bytes 0x00-0x1F, 0x7C and 0x7F (never part of a longer character); the others are the
    sequences of ``_FORBIDDEN_SEQUENCES``. A leading ``"`` makes a CSV reader take the unquoted pipe
    file's value for a quoted one, and swallow the lines after it.
    """
    offsets, body = _body(chunk)
    hits = np.flatnonzero((body < 0x20) | (body == 0x7C) | (body == 0x7F) | (body == 0x22))
    quote = body[hits] == 0x22
    if quote.any():  # a double quote is forbidden only as a value's first byte
        quote[quote] = ~np.isin(hits[quote], offsets[:-1] - offsets[0])
        hits = hits[~quote]
    return values_at(offsets, np.concatenate([hits, _forbidden_sequences(body)]))


def maybe_blank(chunk: pa.Array) -> np.ndarray:
    """Per value: whether it may be made only of whitespace and invisible characters: it is non-empty
    and its first byte is not a visible ASCII character (it is a space, a control, or the lead byte of
    a non-ASCII character). A value starting with a letter, digit or punctuation is surely visible."""
    first, filled = first_bytes(chunk)
    return filled & ((first <= 0x20) | (first >= 0x7F))


#: UTF-8 lead bytes of the characters a cp1252 (or Latin-1) decoding makes of a continuation byte
#: 0x80-0xBF: U+0080-U+00BF (0xC2), the Latin letters with caron, OE and Y with diaeresis (0xC5),
#: the f with hook (0xC6), the modifier circumflex and small tilde (0xCB), and the euro sign,
#: quotation marks, dashes, ellipsis, daggers, per mille, bullet and trade mark (0xE2, U+2000 up).
#: As a table: byte -> whether it is one.
_GARBLED_CONTINUATION = np.isin(np.arange(256), [0xC2, 0xC5, 0xC6, 0xCB, 0xE2])


def mojibake_candidates(chunk: pa.Array) -> np.ndarray:
    """Per value: whether it may be UTF-8 once decoded as cp1252 or Latin-1 (mojibake such as ``Ã©``).

    Such a decoding turns a UTF-8 lead byte (0xC2-0xF4) into one of Â-ô (U+00C2-U+00F4, in UTF-8
    0xC3 0x82-0xB4) and its next byte, a continuation byte, into a character of
    ``_GARBLED_CONTINUATION``: the values holding that byte pattern are the only candidates.
    """
    offsets, body = _body(chunk)
    if not body.size or body.max() < 0xC3:
        return np.zeros(len(chunk), dtype=bool)
    c3 = np.flatnonzero(body == 0xC3)
    second = _after(body, c3, 1)
    c3 = c3[(second >= 0x82) & (second <= 0xB4)]
    c3 = c3[_GARBLED_CONTINUATION[_after(body, c3, 2)]]
    ends = offsets[1:] - offsets[0]
    c3 = c3[c3 + 2 < ends[np.searchsorted(ends, c3, side="right")]]  # the next character is the same value's
    return values_at(offsets, c3)


def nfc_candidates(chunk: pa.Array) -> np.ndarray:
    """Per value: whether NFC normalization could change it.

    Every string of code points below U+0300 (ASCII, Latin-1, Latin Extended, IPA) is already NFC:
    only combining marks and later code points can compose or decompose. In UTF-8 those are the
    values holding a byte from 0xCC up (a lead byte of U+0300 or later).
    """
    offsets, body = _body(chunk)
    return values_at(offsets, np.flatnonzero(body >= 0xCC))
