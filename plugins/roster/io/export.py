"""Reading a district's SIS export: every value as text, columns renamed to canonical fields.

pyarrow parses the CSV; nothing is inferred, so leading zeros survive and a surname ``NA`` stays a
name. Rows the parser cannot split into the header's columns are not fatal: they come back as
``ragged_rows`` so the validator can reject them with a reason. What makes the whole file unreadable
(no header, a missing or repeated column, the header line again further down, another encoding,
an unclosed quote that would swallow the rows after it, a workbook or binary file instead of CSV)
is one ``InputError`` naming the file and the line or row, never quoting a row.

Encodings: the file is read as UTF-8 bytes in every case. A UTF-8 export is the file itself (mapped
into memory); any other declared encoding is transcoded to UTF-8 once (``_transcode``), so every
encoding shares one reader. A declared encoding the bytes contradict is refused: UTF-16/32 text (a
byte-order mark, or the NUL bytes of ASCII characters) declared as 8-bit, 8-bit text declared as
UTF-16/32, and a valid UTF-8 file with non-ASCII characters declared as a legacy code page
(``windows-1252``, ``latin-1``...), which would otherwise deliver ``JosÃ©``. UTF-16/32 is read with
or without a byte-order mark (the byte order is where the NULs sit).

Line endings: LF, CRLF and CR alone (old Mac, some Excel saves), mixed in one file; a carriage
return inside a quoted value is data (the rules reject it). End-of-file junk after the last row
(Ctrl-Z, NUL padding, lines of spaces) is cut off and named in ``Export.notes``.

A UTF-8 export without quote characters (the usual SIS report) is cut at line breaks into one piece
per core, parsed in parallel (``_parse_segments``); any other file goes through pyarrow's own
multi-threaded parser (``_parse_whole``). Values are Arrow ``large_string`` columns, which pandas'
``str`` columns wrap without a copy; a column is trimmed or NFC-normalized only when some value in it
needs it.

Row numbers are as a spreadsheet shows them: the header is row 1, the first student row 2, and a
blank line is a row too (not a student: neither rejected nor counted in ``rows_read``). A quoted
value holding line breaks is one cell, so its record is one row (numbers count records, not lines).
"Line" in an encoding error is the physical line of the file.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from roster.config import OPTIONAL_FIELDS, REQUIRED_FIELDS, Source, VendorExport
from roster.errors import InputError
from roster.fast.arrow import parallel
from roster.fast.scans import has_surrounding_spaces, nfc_candidates, offsets_and_data
from roster.io.text import (
    Text,
    blank_records,
    first_bad_utf8_line,
    load_text,
    padding_note,
)

#: Fields that are names: trimmed and NFC-normalized so "José" typed two ways is one name.
NAME_FIELDS = ("legal_first_name", "legal_middle_name", "legal_last_name")


@dataclass
class Export:
    """One export as read: ``table`` holds canonical string columns plus ``row_number`` (int64)."""

    path: Path
    table: pa.Table
    ragged_rows: list[int] = field(default_factory=list)
    #: Plain sentences for the QA report about what was read around the rows (no student data).
    notes: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self.table.num_rows + len(self.ragged_rows)


@dataclass(frozen=True)
class CsvFormat:
    """How to read one kind of file: what ``read_export`` needs from a district's ``source``.

    ``columns`` maps canonical field -> header; ``required`` are the fields a file must carry (the
    others are "mapped" in error messages). ``what`` names the file in messages ("export",
    "vendor export"); ``encoding_hint`` says what to change when the file is not valid text, and
    ``encoding_key`` the district key that names the encoding (None: the encoding is fixed).
    """

    encoding: str
    delimiter: str
    columns: dict[str, str]
    required: tuple[str, ...] = REQUIRED_FIELDS
    what: str = "export"
    encoding_hint: str = "set source.encoding in the district file to the export's real encoding"
    encoding_key: str | None = "source.encoding"

    @classmethod
    def of_source(cls, source: Source) -> CsvFormat:
        """The SIS export, as a district's ``source`` describes it."""
        return cls(encoding=source.encoding, delimiter=source.delimiter, columns=source.columns.mapped())

    @classmethod
    def of_vendor(cls, vendor: VendorExport) -> CsvFormat:
        """The vendor's roster export (``vendor_export``): always UTF-8, every mapped column required."""
        columns = vendor.columns.mapped()
        return cls(
            encoding="utf-8",
            delimiter=vendor.delimiter,
            columns=columns,
            required=tuple(columns),
            what="vendor export",
            encoding_hint="save the vendor export as UTF-8",
            encoding_key=None,
        )


def _format(spec: Source | CsvFormat) -> CsvFormat:
    return spec if isinstance(spec, CsvFormat) else CsvFormat.of_source(spec)


def read_header(path: Path, source: Source | CsvFormat) -> list[str]:
    """The export's header line, split on the configured delimiter."""
    source = _format(source)
    return _header(path, load_text(path, source, source.what), source)[0]


def _header(path: Path, text: Text, source: CsvFormat) -> tuple[list[str], int]:
    """The header's names and where its line ends (at the first LF or CR: every line ending counts)."""
    data, stop = text.data, min(text.end, 1 << 20)
    end = min((i for i in (data.find(b"\n", 0, stop), data.find(b"\r", 0, stop)) if i >= 0), default=stop)
    first = bytes(data[:end]).removeprefix(codecs.BOM_UTF8)
    if not first.strip(b" \t"):
        raise InputError(f"{path}: the file is empty; expected a header line")
    try:
        line = first.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: line 1: not valid {source.encoding} text ({source.encoding_hint})") from None
    try:
        return [h.strip() for h in next(csv.reader([line], delimiter=source.delimiter))], end
    except csv.Error as exc:
        raise InputError(f"{path}: line 1: not a CSV header ({exc})") from None


def _check_columns(path: Path, header: list[str], source: CsvFormat) -> dict[str, str]:
    """Canonical field -> header for the mapped columns, after checking the header holds them."""
    mapped = dict(source.columns)
    for canonical, name in mapped.items():
        count = header.count(name)
        if count == 0:
            hint = ""
            if len(header) == 1 and source.delimiter not in header[0]:
                hint = f"; is the file delimited by {source.delimiter!r}?"
            kind = "required" if canonical in source.required else "mapped"
            raise InputError(f"{path}: line 1: {kind} column {name!r} ({canonical}) is missing from the header{hint}")
        if count > 1:
            raise InputError(f"{path}: line 1: column {name!r} ({canonical}) appears {count} times in the header")
    return mapped


#: Below this size a file is parsed in one piece; above it, in one piece per core (see ``_parse_segments``).
SEGMENT_MIN_BYTES = 8 << 20
BLOCK_SIZE = 1 << 22


def _options(
    source: CsvFormat,
    header: list[str],
    headers: list[str],
    *,
    encoding: str,
    threaded: bool,
    skip_header: bool,
    newlines_in_values: bool,
    block_size: int,
    on_invalid_row,
):
    # The header is named as ``read_header`` read it (spaces trimmed), so " DOB" still finds DOB.
    # Values are large_string: what pandas' Arrow-backed "str" columns hold, so no conversion later.
    return {
        "read_options": pacsv.ReadOptions(
            encoding=encoding,
            use_threads=threaded,
            block_size=block_size,
            column_names=header,
            skip_rows=1 if skip_header else 0,
        ),
        "parse_options": pacsv.ParseOptions(
            delimiter=source.delimiter,
            newlines_in_values=newlines_in_values,
            invalid_row_handler=on_invalid_row,
            # A blank line is a row of the spreadsheet: kept (all values empty), so every row
            # number counts it; ``_without_blank_lines`` drops it afterwards.
            ignore_empty_lines=False,
        ),
        "convert_options": pacsv.ConvertOptions(
            include_columns=headers,
            column_types={h: pa.large_string() for h in headers},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }


def _read_csv(source_file, options: dict, block_size: int) -> pa.Table:
    """``pacsv.read_csv``, with the block grown when one line is longer than a block."""
    while True:
        try:
            return pacsv.read_csv(source_file, **options)
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc) or block_size >= 1 << 30:
                raise
        block_size *= 4
        read = options["read_options"]
        options = {
            **options,
            "read_options": pacsv.ReadOptions(
                encoding=read.encoding,
                use_threads=read.use_threads,
                block_size=block_size,
                column_names=read.column_names,
                skip_rows=read.skip_rows,
            ),
        }
        if isinstance(source_file, pa.BufferReader):
            source_file.seek(0)


def _split_points(data: Text, start: int, parts: int, newline: bytes) -> list[int]:
    """Offsets just after a line break, cutting ``data[start:end]`` into about ``parts`` pieces."""
    size = data.end
    points = [start]
    for k in range(1, parts):
        target = start + (size - start) * k // parts
        if target <= points[-1]:
            continue
        cut = data.data.find(newline, target, size)
        if cut < 0:
            break
        if cut + 1 < size and cut + 1 > points[-1]:
            points.append(cut + 1)
    points.append(size)
    return points


def _parse_segments(
    source: CsvFormat, header: list[str], headers: list[str], text: Text, header_end: int
) -> tuple[pa.Table, list[int], bool]:
    """A UTF-8 export without any quote character: cut at line breaks, each piece parsed on its own core.

    Without quotes every line break ends a row, so the pieces are independent. Each piece is parsed
    single-threaded, which numbers its ragged rows (the multi-threaded parser cannot); a piece's
    numbers are offset by the rows of the pieces before it. The pieces run in parallel threads (the
    parser releases the GIL), so this is as fast as the multi-threaded parser, in one pass.
    """
    buffer = text.buffer()
    parts = max(1, min(os.cpu_count() or 1, 8)) if text.end >= SEGMENT_MIN_BYTES else 1
    # Cut at LF when there is one (it always ends a line); a file with CR endings only, at CR.
    newline = b"\n" if text.data.find(b"\n", header_end, text.end) >= 0 else b"\r"
    points = _split_points(text, header_end + 1, parts, newline)
    points[0] = 0  # the first piece carries the header line, skipped by the parser

    def parse(k: int) -> tuple[pa.Table, list[int]]:
        ragged: list[int] = []

        def on_invalid_row(row: pacsv.InvalidRow) -> str:
            ragged.append(row.number)
            return "skip"

        options = _options(
            source,
            header,
            headers,
            encoding="utf8",
            threaded=False,
            skip_header=k == 0,
            newlines_in_values=False,
            block_size=BLOCK_SIZE,
            on_invalid_row=on_invalid_row,
        )
        piece = pa.BufferReader(buffer.slice(points[k], points[k + 1] - points[k]))
        return _read_csv(piece, options, BLOCK_SIZE), ragged

    count = len(points) - 1
    if count == 1:
        results = [parse(0)]
    else:
        with ThreadPoolExecutor(max_workers=count) as pool:
            results = list(pool.map(parse, range(count)))
    tables: list[pa.Table] = []
    numbers: list[int] = []
    offset = 0
    for k, (table, ragged) in enumerate(results):
        tables.append(table)
        numbers.extend(offset + n for n in ragged)
        # Rows of this piece: parsed plus skipped, plus the header line in the first piece.
        offset += table.num_rows + len(ragged) + (1 if k == 0 else 0)
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
    return table, numbers, _spaces_at_boundaries(text.view(), source.delimiter)


def _spaces_at_boundaries(raw: np.ndarray, delimiter: str, window: int = 1 << 25) -> bool:
    """Whether any space in a quote-free file touches a delimiter, a line break or an end of the
    file: only then can a value have surrounding spaces to trim. One scan of the bytes, by windows."""
    boundary = np.array([ord(delimiter), 0x0A, 0x0D], dtype=np.uint8) if ord(delimiter) < 128 else None
    if boundary is None:
        return True
    size = raw.size
    for start in range(0, size, window):
        stop = min(start + window, size)
        at = np.flatnonzero(raw[start:stop] == 0x20) + start
        if at.size == 0:
            continue
        if at[0] == 0 or at[-1] == size - 1:
            return True
        for neighbour in (raw[at - 1], raw[at + 1]):
            if ((neighbour == boundary[0]) | (neighbour == 0x0A) | (neighbour == 0x0D)).any():
                return True
    return False


def _parse_whole(
    path: Path, source: CsvFormat, header: list[str], headers: list[str], text: Text
) -> tuple[pa.Table, list[int], bool]:
    """Any other export (quoted values): the multi-threaded parser, which cannot tell where a ragged
    row sits; when there is one, the file is read again in one thread to know."""
    for threaded in (True, False):
        table, ragged, runaway = _parse_pass(source, header, headers, text, threaded=threaded)
        if all(number is not None for number in ragged):
            break
    if runaway:
        number, lines = runaway[0]
        where = f"row {number}: " if number is not None else ""
        raise InputError(
            f"{path}: {where}a quoted value is never closed, so the {lines} line(s) after it were read as "
            "part of that value; fix the quotes in that row (an unterminated quote)"
        )
    return table, [n for n in ragged if n is not None], True


def _parse_pass(
    source: CsvFormat, header: list[str], headers: list[str], text: Text, *, threaded: bool
) -> tuple[pa.Table, list[int | None], list[tuple[int | None, int]]]:
    """One read of the whole file: the table, the ragged rows' numbers (``None`` where the
    multi-threaded parser cannot tell), and the rows that swallowed line breaks (row, lines)."""
    ragged: list[int | None] = []
    runaway: list[tuple[int | None, int]] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        ragged.append(row.number)
        if "\n" in row.text or "\r" in row.text:
            # Only a quote makes a row span lines; one that also has the wrong number of values
            # is a quote never closed: the lines after it were swallowed into one value.
            runaway.append((row.number, row.text.count("\n") + row.text.count("\r") - row.text.count("\r\n")))
        return "skip"

    options = _options(
        source,
        header,
        headers,
        encoding="utf8",
        threaded=threaded,
        skip_header=True,
        newlines_in_values=True,
        block_size=BLOCK_SIZE,
        on_invalid_row=on_invalid_row,
    )
    return _read_csv(pa.BufferReader(text.buffer()), options, BLOCK_SIZE), ragged, runaway


@contextlib.contextmanager
def _quiet_undecodable_rows():
    """pyarrow decodes a ragged row's text for ``on_invalid_row``; when the text is not valid UTF-8
    it reports the failure as an "exception ignored" on stderr (with a traceback) and fails the
    parse. That failure is handled (the first bad line is named); the report is not wanted."""
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if (
            issubclass(unraisable.exc_type, UnicodeDecodeError)
            and getattr(unraisable.object, "__name__", "") == "on_invalid_row"
        ):
            return
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def _parse(
    path: Path, source: CsvFormat, mapped: dict[str, str], header: list[str], text: Text, header_end: int
) -> tuple[pa.Table, list[int], bool, bool]:
    """The mapped columns (blank lines included), the ragged rows' numbers, whether any value may
    need trimming, and whether the file holds quotes. Every encoding is UTF-8 by now (``load_text``)."""
    headers = list(mapped.values())
    # A quoted value may hold a line break, so such a file cannot be cut at any line break.
    quoted = text.data.find(b'"', 0, text.end) >= 0
    try:
        with _quiet_undecodable_rows():
            if quoted:
                return (*_parse_whole(path, source, header, headers, text), quoted)
            return (*_parse_segments(source, header, headers, text, header_end), quoted)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        # Never quote the parser's message: it ends with the offending row's text (names, dates).
        message = str(exc)
        line = first_bad_utf8_line(text)
        if line or isinstance(exc, UnicodeDecodeError) or "UTF8" in message or "decode" in message:
            where = f"line {line}: " if line else ""
            raise InputError(f"{path}: {where}not valid {source.encoding} text ({source.encoding_hint})") from None
        row = re.search(r"Row #(\d+)", message)
        shape = re.search(r"Expected (\d+) columns, got (\d+)", message)
        where = f"row {row[1]}: " if row else ""
        detail = f" (expected {shape[1]} values, found {shape[2]})" if shape else ""
        raise InputError(f"{path}: {where}cannot be parsed as CSV{detail}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None


def read_export(path: Path, source: Source | CsvFormat) -> Export:
    """Read the export; an ``InputError`` for anything that makes the whole file unreadable.

    ``source`` is a district's ``source`` (the SIS export, in its ``format``) or any ``CsvFormat``.
    Every format gives the same ``Export``, so nothing after the reader knows which it was.
    """
    if isinstance(source, Source) and source.format != "csv":
        return _read_package_or_workbook(path, source)
    source = _format(source)
    text = load_text(path, source, source.what)
    header, header_end = _header(path, text, source)
    mapped = _check_columns(path, header, source)
    table, ragged, may_need_trim, quoted = _parse(path, source, mapped, header, text, header_end)

    canonical = {name: field for field, name in mapped.items()}
    table = table.rename_columns([canonical[name] for name in table.column_names])
    ragged = sorted(ragged)
    row_numbers = _row_numbers(table.num_rows, ragged)
    last_row = 1 + table.num_rows + len(ragged)
    table, row_numbers = _without_blank_lines(table, row_numbers, text, quoted)
    table = _normalize(table, may_need_trim)
    _no_repeated_header(path, table, mapped, row_numbers)
    table = table.append_column("row_number", pa.array(row_numbers, pa.int64()))
    note = padding_note(text.padding, last_row)
    return Export(path=path, table=table, ragged_rows=ragged, notes=[note] if note else [])


def _without_blank_lines(
    table: pa.Table, row_numbers: np.ndarray, text: Text, quoted: bool
) -> tuple[pa.Table, np.ndarray]:
    """The rows without the blank lines (the parser keeps them as rows with every value empty).

    A line of delimiters only (``,,,``) parses the same but is a row with empty values, which the
    rules reject, so the file's own blank lines are located (``blank_records``) and only those go.
    That scan runs only when some row has nothing in it at all (one column's empty values first).
    """
    if table.num_rows == 0 or table.num_columns == 0:
        return table, row_numbers
    empty = _empty_values(table.column(0))
    if not empty.any():
        return table, row_numbers
    rows = table.take(pa.array(np.flatnonzero(empty)))
    nothing = np.ones(rows.num_rows, dtype=bool)
    for column in rows.columns:
        nothing &= pc.equal(pc.binary_length(column), 0).to_numpy(zero_copy_only=False).astype(bool)
    if not nothing.any():
        return table, row_numbers
    blank = np.isin(row_numbers, blank_records(text.view(), quoted))
    if not blank.any():
        return table, row_numbers
    return table.filter(pa.array(~blank)), row_numbers[~blank]


def _empty_values(column: pa.ChunkedArray) -> np.ndarray:
    """Per value: whether it is empty (equal neighbouring offsets; no per-value kernel)."""
    flags = []
    for chunk in column.chunks:
        offsets, _ = offsets_and_data(chunk)
        flags.append(offsets[1:] == offsets[:-1])
    return np.concatenate(flags) if flags else np.zeros(0, dtype=bool)


def _no_repeated_header(path: Path, table: pa.Table, mapped: dict[str, str], row_numbers: np.ndarray) -> None:
    """A row that is the header again means two exports were joined into one file: not one roster."""
    field, name = next(iter(mapped.items()))
    if table.num_rows == 0:
        return
    candidates = pc.equal(table[field], name)
    if not pc.any(candidates).as_py():
        return
    positions = pc.indices_nonzero(candidates).to_numpy()
    rows = table.take(positions)
    repeated = np.ones(len(positions), dtype=bool)
    for field, header in mapped.items():
        repeated &= pc.equal(rows[field], header).to_numpy(zero_copy_only=False).astype(bool)
    if repeated.any():
        number = row_numbers[positions[int(np.argmax(repeated))]]
        raise InputError(
            f"{path}: row {int(number)}: the header line appears again: are two exports joined into one file? "
            "Send one export with one header line"
        )


def _normalize(table: pa.Table, may_need_trim: bool = True) -> pa.Table:
    """Trim surrounding spaces from every value; NFC-normalize names.

    Only spaces are trimmed: a tab, carriage return or other control character must stay visible so
    the validator can reject the value instead of silently changing it. Both steps copy a chunk
    only when some value in it changes (most exports have nothing to trim and few decomposed
    accents), so a clean export's columns stay the parser's own memory.
    """

    def normalized(name: str) -> pa.ChunkedArray:
        chunks = []
        for chunk in table[name].chunks:
            trimmed = pc.utf8_trim(chunk, characters=" ") if may_need_trim and has_surrounding_spaces(chunk) else chunk
            chunks.append(_nfc(trimmed) if name in NAME_FIELDS else trimmed)
        return pa.chunked_array(chunks, type=table.schema.field(name).type)

    return pa.table(parallel(normalized, table.column_names), names=table.column_names)


def _nfc(array: pa.Array) -> pa.Array:
    """NFC-normalized values; only values that can change are normalized (usually none)."""
    if len(array) == 0:
        return array
    candidates = nfc_candidates(array)
    if not candidates.any():
        return array
    mask = pa.array(candidates)
    subset = pc.filter(array, mask)
    normalized = pc.utf8_normalize(subset, form="NFC")
    if pc.all(pc.equal(subset, normalized)).as_py():
        return array
    return pc.replace_with_mask(array, mask, normalized)


def _row_numbers(count: int, skipped: list[int]):
    """Spreadsheet row numbers of the parsed rows, leaving out the rows the parser skipped."""
    numbers = np.arange(2, count + len(skipped) + 2, dtype=np.int64)
    if skipped:
        keep = np.ones(len(numbers), dtype=bool)
        keep[np.asarray(skipped, dtype=np.int64) - 2] = False
        numbers = numbers[keep]
    return numbers


def _read_package_or_workbook(path: Path, source: Source) -> Export:
    """A OneRoster bulk package or an Excel workbook (their readers load only when a district uses them)."""
    if source.format == "oneroster":
        from roster.io.oneroster import read_oneroster

        mapping = source.oneroster_mapping
        return read_oneroster(path, state_id=mapping.state_id, extensions=mapping.extensions)
    from roster.io.workbook import read_workbook

    return read_workbook(path, source.columns.mapped(), sheet=source.sheet, date_format=source.date_format)


def read_vendor_export(path: Path, vendor: VendorExport) -> Export:
    """The vendor's current roster export (``vendor_export`` of the district file), read like an SIS export."""
    return read_export(path, CsvFormat.of_vendor(vendor))


__all__ = ["NAME_FIELDS", "OPTIONAL_FIELDS", "CsvFormat", "Export", "read_export", "read_header", "read_vendor_export"]
