"""Reading a district's SIS export: every value as text, columns renamed to canonical fields.

pyarrow parses the CSV (fast, multi-threaded); nothing is inferred, so leading zeros survive and a
surname ``NA`` stays a name. Rows the parser cannot split into the header's columns are not fatal:
they come back as ``ragged_rows`` so the validator can reject them with a reason.

Row numbers are as a spreadsheet shows them: the header is row 1, the first student row 2 (blank
lines are not counted).
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from roster.config import OPTIONAL_FIELDS, REQUIRED_FIELDS, Source, VendorExport
from roster.errors import InputError

#: Fields that are names: trimmed and NFC-normalized so "José" typed two ways is one name.
NAME_FIELDS = ("legal_first_name", "legal_middle_name", "legal_last_name")


@dataclass
class Export:
    """One export as read: ``table`` holds canonical string columns plus ``row_number`` (int64)."""

    path: Path
    table: pa.Table
    ragged_rows: list[int] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self.table.num_rows + len(self.ragged_rows)


@dataclass(frozen=True)
class CsvFormat:
    """How to read one kind of file: what ``read_export`` needs from a district's ``source``.

    ``columns`` maps canonical field -> header; ``required`` are the fields a file must carry (the
    others are "mapped" in error messages). ``what`` names the file in messages ("export",
    "vendor export"); ``encoding_hint`` says what to change when the file is not valid text.
    """

    encoding: str
    delimiter: str
    columns: dict[str, str]
    required: tuple[str, ...] = REQUIRED_FIELDS
    what: str = "export"
    encoding_hint: str = "set source.encoding in the district file to the export's real encoding"

    @classmethod
    def of_source(cls, source: Source) -> CsvFormat:
        """The SIS export, as a district's ``source`` describes it."""
        return cls(encoding=source.encoding, delimiter=source.delimiter, columns=source.columns.mapped())

    @classmethod
    def of_vendor(cls, vendor: VendorExport) -> CsvFormat:
        """The vendor's roster export (``vendor_export``): always UTF-8, every mapped column required."""
        columns = vendor.columns.model_dump()
        return cls(
            encoding="utf-8",
            delimiter=vendor.delimiter,
            columns=columns,
            required=tuple(columns),
            what="vendor export",
            encoding_hint="save the vendor export as UTF-8",
        )


def _format(spec: Source | CsvFormat) -> CsvFormat:
    return spec if isinstance(spec, CsvFormat) else CsvFormat.of_source(spec)


def _codec_name(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    # A UTF-8 byte-order mark is always accepted, whatever the district file says.
    return "utf-8-sig" if name == "utf-8" else name


def read_header(path: Path, source: Source | CsvFormat) -> list[str]:
    """The export's header line, split on the configured delimiter."""
    source = _format(source)
    try:
        with path.open("rb") as handle:
            first = handle.readline(1 << 20)
    except FileNotFoundError:
        raise InputError(f"{path}: {source.what} not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    if not first.strip(b"\r\n\xef\xbb\xbf \t"):
        raise InputError(f"{path}: the file is empty; expected a header line")
    try:
        text = first.decode(_codec_name(source.encoding))
    except UnicodeDecodeError:
        raise InputError(f"{path}: line 1: not valid {source.encoding} text") from None
    return [h.strip() for h in next(csv.reader(io.StringIO(text), delimiter=source.delimiter))]


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


def _first_bad_line(path: Path, encoding: str) -> int | None:
    decoder = codecs.getincrementaldecoder(_codec_name(encoding))()
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError:
                return number
    return None


def _parse(
    path: Path, source: CsvFormat, mapped: dict[str, str], header: list[str], threaded: bool
) -> tuple[pa.Table, list[int | None]]:
    ragged: list[int | None] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        ragged.append(row.number)
        return "skip"

    headers = list(mapped.values())
    table = pacsv.read_csv(
        path,
        # The header is named as ``read_header`` read it (spaces trimmed), so " DOB" still finds DOB.
        read_options=pacsv.ReadOptions(
            encoding=_codec_name(source.encoding), use_threads=threaded, block_size=1 << 22,
            column_names=header, skip_rows=1,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=source.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid_row
        ),
        convert_options=pacsv.ConvertOptions(
            include_columns=headers,
            column_types={h: pa.string() for h in headers},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table, ragged


def read_export(path: Path, source: Source | CsvFormat) -> Export:
    """Read the export; an ``InputError`` for anything that makes the whole file unreadable.

    ``source`` is a district's ``source`` (the SIS export) or any ``CsvFormat``.
    """
    source = _format(source)
    header = read_header(path, source)
    mapped = _check_columns(path, header, source)
    try:
        table, ragged = _parse(path, source, mapped, header, threaded=True)
        if any(number is None for number in ragged):
            # The threaded parser cannot tell where a bad row sits; re-read in one thread to know.
            table, ragged = _parse(path, source, mapped, header, threaded=False)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        message = str(exc)
        if isinstance(exc, UnicodeDecodeError) or "UTF8" in message or "decode" in message:
            line = _first_bad_line(path, source.encoding)
            where = f"line {line}: " if line else ""
            raise InputError(f"{path}: {where}not valid {source.encoding} text ({source.encoding_hint})") from None
        raise InputError(f"{path}: cannot be parsed as CSV: {message.splitlines()[0]}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None

    table = table.rename_columns([_canonical(mapped, name) for name in table.column_names])
    table = _normalize(table)
    row_numbers = _row_numbers(table.num_rows, [n for n in ragged if n is not None])
    table = table.append_column("row_number", pa.array(row_numbers, pa.int64()))
    return Export(path=path, table=table, ragged_rows=sorted(n for n in ragged if n is not None))


def _canonical(mapped: dict[str, str], header: str) -> str:
    return next(canonical for canonical, name in mapped.items() if name == header)


def _normalize(table: pa.Table) -> pa.Table:
    """Trim surrounding spaces from every value; NFC-normalize names.

    Only spaces are trimmed: a tab, carriage return or other control character must stay visible so
    the validator can reject the value instead of silently changing it.
    """
    columns = []
    for name in table.column_names:
        column = pc.utf8_trim(table[name], characters=" ")
        if name in NAME_FIELDS:
            column = pc.utf8_normalize(column, form="NFC")
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _row_numbers(count: int, skipped: list[int]):
    """Spreadsheet row numbers of the parsed rows, leaving out the rows the parser skipped."""
    import numpy as np

    numbers = np.arange(2, count + len(skipped) + 2, dtype=np.int64)
    if skipped:
        numbers = numbers[~np.isin(numbers, np.asarray(skipped, dtype=np.int64))]
    return numbers


def read_vendor_export(path: Path, vendor: VendorExport) -> Export:
    """The vendor's current roster export (``vendor_export`` of the district file), read like an SIS export."""
    return read_export(path, CsvFormat.of_vendor(vendor))


__all__ = ["CsvFormat", "Export", "NAME_FIELDS", "OPTIONAL_FIELDS", "read_export", "read_header", "read_vendor_export"]
