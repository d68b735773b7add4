"""An export file's bytes as UTF-8 text: the declared encoding checked against the bytes, other
encodings transcoded once, end-of-file junk cut off, lines counted and blank lines found.

``load_text`` is what the export reader parses: a UTF-8 file is its own memory map (no copy); any
other declared encoding is decoded block by block with Python's incremental decoder and re-encoded
as UTF-8 (``_transcode``). Every check here is a byte scan (numpy, pyarrow's UTF-8 validation, the
C ``find`` of ``mmap``/``bytes``), and the clean UTF-8 path pays only for a look at the file's first
bytes and its last ones.

Refused, each with one ``InputError`` naming the file and the line (never the line's text):

* UTF-16/32 text (a byte-order mark, or the NUL bytes of ASCII characters) declared as UTF-8 or an
  8-bit code page, and 8-bit text declared as UTF-16/32;
* a valid UTF-8 file holding non-ASCII characters declared as a legacy code page: read as
  ``windows-1252`` it would deliver ``JosÃ©`` without a word;
* bytes the declared encoding cannot decode (the first such line).
"""

from __future__ import annotations

import codecs
import functools
import mmap
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa

from roster.errors import InputError

#: Transcoding block: big enough that Python's decoder runs at C speed, small enough to bound memory.
BLOCK_SIZE = 1 << 22

#: What district staff send instead of a CSV export, by the bytes it starts with.
_SIGNATURES = (
    (b"PK\x03\x04", "it is an Excel workbook (.xlsx) or another zip archive; save it from Excel as CSV"),
    (b"\xd0\xcf\x11\xe0", "it is an old Excel workbook (.xls); save it from Excel as CSV"),
    (b"%PDF", "it is a PDF document"),
    (b"\x1f\x8b", "it is gzip-compressed; decompress it first"),
    (b"{\\rtf", "it is a Word (RTF) document"),
)

#: Byte-order marks, the longer first (a UTF-32-LE mark starts with the UTF-16-LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

#: End-of-file junk: NUL padding, Ctrl-Z (the DOS end of file), spaces, tabs, line breaks.
_JUNK = np.zeros(256, dtype=bool)
_JUNK[[0x00, 0x1A, 0x20, 0x09, 0x0D, 0x0A]] = True
_JUNK_NAMES = ((b"\x00", "NUL"), (b"\x1a", "Ctrl-Z"), (b" ", "spaces"), (b"\t", "tabs"))


class Format(Protocol):
    """What this module needs of the reader's ``CsvFormat``."""

    @property
    def encoding(self) -> str: ...
    @property
    def encoding_hint(self) -> str: ...
    @property
    def encoding_key(self) -> str | None: ...


@dataclass
class Text:
    """The export as UTF-8 bytes: ``data[:end]`` (a memory map of the file, or the transcoded bytes);
    ``padding`` is the end-of-file junk cut off after the last row's line ending."""

    data: mmap.mmap | bytes
    end: int
    padding: bytes = b""

    def buffer(self) -> pa.Buffer:
        return pa.py_buffer(self.data).slice(0, self.end)

    def view(self) -> np.ndarray:
        return np.frombuffer(self.data, dtype=np.uint8, count=self.end)


def codec_name(encoding: str) -> str:
    """Python's name of the encoding; UTF-8 is always ``utf-8-sig`` (a byte-order mark is always accepted)."""
    name = codecs.lookup(encoding).name
    return "utf-8-sig" if name == "utf-8" else name


def _wide(codec: str) -> bool:
    return codec.startswith(("utf-16", "utf-32"))


def _set(source: Format, encoding: str) -> str:
    """What to change: the district's encoding key, or (the vendor's export) how to save the file."""
    if source.encoding_key is None:
        return source.encoding_hint
    return f"set {source.encoding_key}: {encoding} in the district file"


def wide_text(head: bytes) -> tuple[str, int, str] | None:
    """The UTF-16/32 codec the file's first bytes show, the length of its byte-order mark, and how it
    shows; None for 8-bit text. Without a mark, ASCII characters (a header line) are one byte and one
    (UTF-16) or three (UTF-32) NUL bytes, on the side of the byte order."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec, len(bom), "a byte-order mark"
    for width, family, wide_side in ((4, "utf-32", (2, 3)), (2, "utf-16", (1,))):
        usable = len(head) // width * width
        if usable < 2 * width:
            continue
        share = (np.frombuffer(head[:usable], dtype=np.uint8).reshape(-1, width) == 0).mean(axis=0)
        for order, zeros, byte in (("le", wide_side, 0), ("be", tuple(width - 1 - z for z in wide_side), width - 1)):
            if min(share[z] for z in zeros) >= 0.5 and share[byte] < 0.05:
                return f"{family}-{order}", 0, "NUL bytes between its letters, no byte-order mark"
    return None


def _open(path: Path, what: str) -> mmap.mmap:
    try:
        with path.open("rb") as handle:
            if not handle.seek(0, 2):
                raise InputError(f"{path}: the file is empty; expected a header line")
            # Not closed explicitly: Arrow buffers may still point into it (freed with the last of them).
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None


def load_text(path: Path, source: Format, what: str) -> Text:
    """The file as UTF-8 text, after checking the declared encoding against its bytes."""
    raw = _open(path, what)
    head = raw[:4096]
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            raise InputError(f"{path}: line 1: not a CSV export: {kind}")
    codec = codec_name(source.encoding)
    wide = wide_text(head)
    if wide is not None:
        found, bom, how = wide
        family = found[:6]
        if not codec.startswith(family):
            raise InputError(
                f"{path}: line 1: not {source.encoding} text: it is {family.upper()} text ({how}); "
                f"{_set(source, family)}"
            )
        return without_padding(_transcode(path, raw, found, bom, source))
    if _wide(codec):
        raise InputError(
            f"{path}: line 1: not {source.encoding} text: it has no byte-order mark and no NUL bytes, so it is "
            f"8-bit text (UTF-8 or a Windows code page); {_set(source, 'utf-8')}"
        )
    problem = _binary(head)
    if problem:
        raise InputError(f"{path}: line 1: not a CSV export: {problem}: binary data, not text")
    if codec == "utf-8-sig":
        return without_padding(Text(raw, len(raw)))
    return without_padding(_legacy(path, raw, codec, source))


#: Control bytes that text does not hold (tab, line breaks, form feed and Ctrl-Z aside).
_CONTROL = np.zeros(256, dtype=bool)
_CONTROL[[*range(0x09), 0x0B, *range(0x0E, 0x1A), *range(0x1B, 0x20), 0x7F]] = True


def _binary(head: bytes) -> str | None:
    """Why the file's first bytes are no text (a NUL in the header line, or control bytes throughout)."""
    first_line = head[: min(i for i in (head.find(b"\n"), head.find(b"\r"), len(head)) if i >= 0)]
    if b"\x00" in first_line:
        return "its first line holds NUL bytes"
    text = head.rstrip(b"\x00\x1a \t\r\n")  # a small file's end-of-file padding is no sign of binary data
    controls = int(np.count_nonzero(_CONTROL[np.frombuffer(text, dtype=np.uint8)]))
    if controls > max(16, len(text) // 50):  # a few stray ones are values for the rules to reject
        return "its first bytes hold control characters"
    return None


@functools.lru_cache
def _ascii_compatible(codec: str) -> bool:
    try:
        return bytes(range(128)).decode(codec) == "".join(map(chr, range(128)))
    except UnicodeDecodeError:
        return False


def is_utf8(data: mmap.mmap | bytes, end: int | None = None) -> bool:
    """Whether the bytes are valid UTF-8 (pyarrow's vectorized validation, no copy)."""
    end = len(data) if end is None else end
    offsets = pa.py_buffer(np.array([0, end], dtype=np.int64))
    array = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data).slice(0, end)])
    try:
        array.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _legacy(path: Path, raw: mmap.mmap, codec: str, source: Format) -> Text:
    """A legacy code page: plain ASCII needs no decoding; valid UTF-8 with non-ASCII characters is
    UTF-8 (a code page would turn é into Ã©); anything else is transcoded."""
    view = np.frombuffer(raw, dtype=np.uint8)
    if _ascii_compatible(codec) and view.max() < 0x80:
        return Text(raw, len(raw))
    if is_utf8(raw):
        first = int(np.argmax(view >= 0x80))
        raise InputError(
            f"{path}: line {line_at(raw, first)}: not {source.encoding} text: the file is UTF-8 (read as "
            f"{source.encoding}, its accented letters would turn into mojibake such as Ã©); {_set(source, 'utf-8')}"
        )
    return _transcode(path, raw, codec, 0, source)


def _transcode(path: Path, raw: mmap.mmap, codec: str, start: int, source: Format) -> Text:
    """``raw[start:]`` decoded with ``codec`` block by block and re-encoded as UTF-8."""
    decoder = codecs.getincrementaldecoder(codec)()
    parts: list[bytes] = []
    size = len(raw)
    for offset in range(start, size, BLOCK_SIZE):
        block = raw[offset : offset + BLOCK_SIZE]
        state = decoder.getstate()
        try:
            parts.append(decoder.decode(block, final=offset + BLOCK_SIZE >= size).encode("utf-8"))
        except UnicodeDecodeError as exc:
            line = _undecodable_line(parts, codec, state, block, exc)
            raise InputError(
                f"{path}: line {line}: not valid {source.encoding} text ({source.encoding_hint})"
            ) from None
    data = b"".join(parts)
    return Text(data, len(data))


def _undecodable_line(parts: list[bytes], codec: str, state, block: bytes, exc: UnicodeDecodeError) -> int:
    """The line of the first undecodable byte: the lines decoded before it, plus one."""
    decoder = codecs.getincrementaldecoder(codec)()
    decoder.setstate(state)
    # The decoder's position counts the bytes it kept from the block before (the state's first item).
    before = decoder.decode(block[: max(0, exc.start - len(state[0]))]).encode("utf-8")
    done = b"".join([*parts, before])
    return line_at(done, len(done))


def first_bad_utf8_line(text: Text) -> int | None:
    """The line of the first byte that is not UTF-8, or None (a block-by-block decode, no copy kept)."""
    if is_utf8(text.data, text.end):
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    for offset in range(0, text.end, BLOCK_SIZE):
        state = decoder.getstate()
        try:
            decoder.decode(
                text.data[offset : min(offset + BLOCK_SIZE, text.end)], final=offset + BLOCK_SIZE >= text.end
            )
        except UnicodeDecodeError as exc:
            return line_at(text.data, offset + max(0, exc.start - len(state[0])))
    return None


def line_at(data: mmap.mmap | bytes, offset: int) -> int:
    """The physical line holding byte ``offset``: one plus the line breaks before it (LF, CRLF, CR)."""
    view = np.frombuffer(data, dtype=np.uint8, count=min(offset + 1, len(data)))
    before = view[:offset]
    following = view[1 : offset + 1]
    if following.size < before.size:
        following = np.append(following, np.uint8(0))
    return 1 + int(np.count_nonzero(before == 0x0A)) + int(np.count_nonzero((before == 0x0D) & (following != 0x0A)))


def without_padding(text: Text, window: int = 1 << 16) -> Text:
    """The text without the end-of-file junk after its last row's line ending: NUL padding, Ctrl-Z,
    spaces and blank lines. Only the file's tail is scanned (more only while all of it is junk)."""
    view = text.view()
    stop = view.size
    while stop > 0:
        start = max(0, stop - window)
        real = np.flatnonzero(~_JUNK[view[start:stop]])
        if real.size:
            stop = start + int(real[-1]) + 1
            break
        stop, window = start, window * 4
    end = stop
    for ending in () if stop == 0 else (b"\r\n", b"\n", b"\r"):
        if text.data[end : end + len(ending)] == ending:
            end += len(ending)
            break
    return Text(text.data, end, bytes(text.data[end : text.end]))


def padding_note(padding: bytes, last_row: int) -> str | None:
    """A sentence for the QA report when junk beyond blank lines was cut off (no student data)."""
    kinds = [name for byte, name in _JUNK_NAMES if byte in padding]
    if not kinds:
        return None
    size = f"{len(padding)} byte{'' if len(padding) == 1 else 's'}"
    return f"ignored {size} of end-of-file padding ({', '.join(kinds)}) after row {last_row}"


def blank_records(view: np.ndarray, quoted: bool) -> np.ndarray:
    """Spreadsheet row numbers (header row 1) of the blank lines: records with nothing in them.

    A record ends at a line break outside quotes (an even number of ``"`` before it: RFC 4180's
    doubled quotes count twice); a break inside a quoted value is data. CRLF is one break.
    """
    marks = view == 0x0A
    marks |= view == 0x0D
    at = np.flatnonzero(marks)  # every LF and CR, in order: one pass over the bytes
    del marks
    kind = view[at]
    # A CR right before an LF is one break with it (CRLF): the LF ends it, the CR is its first byte.
    pair = np.zeros(at.size, dtype=bool)
    pair[:-1] = (kind[:-1] == 0x0D) & (kind[1:] == 0x0A) & (at[1:] == at[:-1] + 1)
    first_byte = at.copy()
    first_byte[1:][pair[:-1]] -= 1
    keep = ~pair
    breaks, first_byte = at[keep], first_byte[keep]
    if quoted and breaks.size:
        outside = np.searchsorted(np.flatnonzero(view == 0x22), breaks) % 2 == 0
        breaks, first_byte = breaks[outside], first_byte[outside]
    starts = np.concatenate([[0], breaks[:-1] + 1])
    return np.flatnonzero(starts == first_byte) + 1
