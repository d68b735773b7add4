"""Reading a district's SIS export from an Excel workbook (``.xlsx``): every value as the user sees it.

The result is the CSV reader's ``Export``: canonical ``large_string`` columns plus ``row_number``,
so the night cannot tell a workbook from a CSV file of the same students. openpyxl reads the sheet
in read-only mode, one pass over its XML (its sheet parser streams the rows and collects the merged
ranges on the way); nothing but the chosen sheet is parsed.

Cells become text as the sheet shows them: text as it is; numbers with their number format
(``number_format``: a State ID 1234 shown as ``0001234`` is ``0001234``, 87 is ``87``, never
``87.0``); cells typed as dates in the district's ``date_format``, so the night's date rules read
them like a CSV export's dates whatever the sheet's display format (text cells that hold dates pass
as they are and are parsed with ``date_format``); booleans ``TRUE``/``FALSE`` and error cells
(``#N/A``) as Excel shows them. Names are trimmed and NFC-normalized, every value trimmed, as in
the CSV reader.

The header is the first row with anything in it; the columns are found by name, so the sheet's
column order and extra columns do not matter (a value in a column without a header is ignored: a
sheet cannot shift a row's values the way a CSV row with a stray delimiter does, so there are no
ragged rows). Row numbers are the sheet's own; a row with nothing in it is not a student (neither
rejected nor counted) but keeps its number, as a blank line does in a CSV export.

What makes the sheet unreadable is one ``InputError`` naming the file, the sheet and the cell or
row, never a cell's value (it may be a name or a date of birth):

- a formula in a mapped column. The value a formula last showed is cached in the file only when
  Excel saved it (files written by scripts have none, so the value would read as empty) and may be
  stale (manual recalculation); the export must be values. The message names the cell, never the
  formula (it may hold a name).
- merged cells touching a mapped column from the header down: a merged cell holds its value in its
  first row only, so the other rows would read as empty.
- a hidden sheet, whether named in ``source.sheet`` or the first sheet by default: the person who
  sends the export cannot see what it holds. Sheets are counted in the workbook's order, hidden ones
  included, so an index means the same whatever is hidden.
- a sheet that does not exist (the message lists the sheets), a chart sheet, an empty sheet.
- a file that is not an ``.xlsx`` workbook: an old ``.xls``, a password-protected workbook (an
  encrypted container, not a zip), a text file (a CSV export named ``.xlsx``), another zip archive.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from roster.config import REQUIRED_FIELDS
from roster.errors import InputError
from roster.io.export import Export, _normalize
from roster.io.number_format import render_number

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: The stream an encrypted (password-protected) OOXML workbook keeps inside its OLE container.
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


def read_workbook(
    path: Path,
    columns: Mapping[str, str],
    *,
    sheet: str | int | None = None,
    date_format: str,
    required: tuple[str, ...] = REQUIRED_FIELDS,
) -> Export:
    """Read one sheet of the workbook at ``path``; ``columns`` maps canonical field -> header.

    ``sheet`` is a sheet's name or 0-based index (None: the first sheet); ``date_format`` renders
    date cells; ``required`` are the fields reported as "required" (the others "mapped") when a
    column is missing.
    """
    _check_container(path)
    with path.open("rb") as handle, warnings.catch_warnings():
        # openpyxl warns about what it ignores (data validation, default styles...), not for users.
        warnings.simplefilter("ignore")
        workbook = _load(path, handle)
        try:
            worksheet = _pick_sheet(path, workbook, sheet)
            where = f"{path}: sheet {worksheet.title!r}"
            grid = _Grid(where, workbook, worksheet, dict(columns), required, date_format)
            values, row_numbers = grid.read()
        finally:
            workbook.close()
    table = pa.table({field: pa.array(values[field], pa.large_string()) for field in columns})
    table = _normalize(table)
    _no_repeated_header(where, table, dict(columns), row_numbers)
    table = table.append_column("row_number", pa.array(row_numbers, pa.int64()))
    return Export(path=path, table=table)


def _check_container(path: Path) -> None:
    """What the file is, from its first bytes: only a zip archive can be an ``.xlsx`` workbook."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            if head.startswith(_OLE):
                handle.seek(0)
                encrypted = _ENCRYPTED in handle.read(1 << 20)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if head.startswith(_ZIP):
        return
    if not head:
        raise InputError(f"{path}: the file is empty; expected an Excel workbook (.xlsx)")
    if head.startswith(_OLE) and encrypted:
        raise InputError(
            f"{path}: the workbook is password-protected (encrypted), so it cannot be read; "
            "save a copy without a password to open"
        )
    if head.startswith(_OLE):
        raise InputError(
            f"{path}: not an .xlsx workbook: it is an old Excel workbook (.xls); "
            "save it from Excel as an Excel Workbook (.xlsx)"
        )
    if _looks_like_text(path):
        raise InputError(
            f"{path}: not an Excel workbook: the file is text (a CSV export named .xlsx?); "
            "send the workbook itself, or read the file as CSV"
        )
    raise InputError(f"{path}: not an Excel workbook (.xlsx)")


def _looks_like_text(path: Path) -> bool:
    sample = path.read_bytes()[: 1 << 16]
    for encoding in ("utf-8", "utf-16"):
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        if text.isprintable() or all(c.isprintable() or c in "\r\n\t" for c in text):
            return True
    return False


def _load(path: Path, handle) -> Any:
    from xml.etree.ElementTree import ParseError

    from openpyxl import load_workbook  # type: ignore[import-untyped]
    from openpyxl.utils.exceptions import InvalidFileException  # type: ignore[import-untyped]

    try:
        # A file object, not the path: openpyxl would otherwise refuse a name not ending in .xlsx.
        return load_workbook(handle, read_only=True, data_only=False, keep_links=False)
    except (zipfile.BadZipFile, InvalidFileException, ParseError, KeyError, ValueError, TypeError, AttributeError):
        # A zip without a workbook part (a OneRoster bundle, an .ods), or parts openpyxl cannot parse.
        raise InputError(f"{path}: a zip archive, but not an Excel workbook (.xlsx) that can be read") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None


def _sheet_list(workbook) -> str:
    return ", ".join(repr(name) for name in workbook.sheetnames)


def _pick_sheet(path: Path, workbook, sheet: str | int | None):
    """The sheet named or numbered by ``source.sheet``, or the first; it must be a visible sheet of cells."""
    names = workbook.sheetnames
    if isinstance(sheet, str):
        if sheet not in names:
            raise InputError(f"{path}: no sheet named {sheet!r} (source.sheet); the sheets are {_sheet_list(workbook)}")
        chosen = workbook[sheet]
    else:
        index = 0 if sheet is None else sheet
        if not 0 <= index < len(names):
            raise InputError(
                f"{path}: no sheet at index {index} (source.sheet counts from 0); "
                f"the workbook has {len(names)} sheet(s): {_sheet_list(workbook)}"
            )
        chosen = workbook[names[index]]
    which = "the first sheet" if sheet is None else "sheet"
    if not hasattr(chosen, "_worksheet_path"):
        raise InputError(f"{path}: {which} {chosen.title!r} is a chart, not a sheet of cells; set source.sheet")
    if chosen.sheet_state != "visible":
        raise InputError(
            f"{path}: {which} {chosen.title!r} is hidden; unhide it in Excel and check it holds the students, "
            "or set source.sheet to the sheet that does"
        )
    return chosen


def _cell_name(column: int, row: int) -> str:
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

    return f"{get_column_letter(column)}{row}"


class _Grid:
    """One pass over a sheet's rows: the header, then each row's mapped cells as text."""

    def __init__(self, where: str, workbook, worksheet, columns: dict[str, str], required, date_format: str):
        self.where = where
        self.workbook = workbook
        self.worksheet = worksheet
        self.columns = columns
        self.required = required
        self.date_format = date_format
        self.formats = _number_formats(workbook)
        self.header_row = 0
        self.positions: dict[str, int] = {}  # field -> 1-based column

    def read(self) -> tuple[dict[str, list[str]], np.ndarray]:
        values: dict[str, list[str]] = {field: [] for field in self.columns}
        numbers: list[int] = []
        parser = self._parser()
        for number, cells in parser.parse():
            if not any(_has_value(cell) for cell in cells):
                continue
            if not self.header_row:
                self._header(number, cells)
                continue
            by_column = {cell["column"]: cell for cell in cells}
            for field, column in self.positions.items():
                cell = by_column.get(column)
                values[field].append("" if cell is None else self._text(cell, field))
            numbers.append(number)
        if not self.header_row:
            raise InputError(f"{self.where} is empty; expected a header row")
        self._no_merged_cells(parser.merged_cells)
        return values, np.asarray(numbers, dtype=np.int64)

    def _parser(self):
        from openpyxl.worksheet._reader import WorkSheetParser  # type: ignore[import-untyped]

        # The read-only worksheet's own parser, driven directly: its rows come with the sheet's real
        # row numbers (whatever the file's declared dimensions say) and it collects the merged ranges.
        workbook = self.workbook
        return WorkSheetParser(
            workbook._archive.open(self.worksheet._worksheet_path),
            self.worksheet._shared_strings,
            data_only=False,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )

    def _header(self, number: int, cells: list[dict]) -> None:
        self.header_row = number
        names: dict[int, str] = {}
        for cell in cells:
            if cell["data_type"] == "f":
                raise InputError(
                    f"{self.where} cell {_cell_name(cell['column'], number)}: a formula in the header row; "
                    "save the sheet's values, not its formulas"
                )
            names[cell["column"]] = self._plain(cell).strip()
        header = list(names.values())
        for field, name in self.columns.items():
            count = header.count(name)
            if count == 0:
                kind = "required" if field in self.required else "mapped"
                raise InputError(
                    f"{self.where} row {number}: {kind} column {name!r} ({field}) is missing from the header"
                )
            if count > 1:
                raise InputError(
                    f"{self.where} row {number}: column {name!r} ({field}) appears {count} times in the header"
                )
            self.positions[field] = next(column for column, text in names.items() if text == name)

    def _text(self, cell: dict, field: str) -> str:
        if cell["data_type"] == "f":
            raise InputError(
                f"{self.where} cell {_cell_name(cell['column'], cell['row'])} ({self.columns[field]}): "
                "a formula, not a value; save the sheet's values instead of its formulas "
                "(copy the sheet, then Paste Special > Values)"
            )
        return self._plain(cell)

    def _plain(self, cell: dict) -> str:
        value = cell["value"]
        if value is None:
            return ""
        kind = cell["data_type"]
        if kind == "d":
            return _date_text(value, self.date_format)
        if kind == "b":
            return "TRUE" if value else "FALSE"
        if kind == "n":
            return render_number(value, self.formats[cell["style_id"] or 0])
        return str(value)

    def _no_merged_cells(self, merged) -> None:
        from openpyxl.utils.cell import range_boundaries  # type: ignore[import-untyped]

        mapped = {column: self.columns[field] for field, column in self.positions.items()}
        for cell_range in getattr(merged, "mergeCell", None) or []:
            low_col, _, high_col, high_row = range_boundaries(cell_range.ref)
            touched = [mapped[c] for c in sorted(mapped) if low_col <= c <= high_col]
            if touched and high_row >= self.header_row:
                raise InputError(
                    f"{self.where} cells {cell_range.ref}: merged cells (column {touched[0]!r}); a merged cell "
                    "holds its value in its first row only: unmerge them and fill in every row"
                )


def _has_value(cell: dict) -> bool:
    value = cell["value"]
    return value is not None and not (isinstance(value, str) and not value.strip(" "))


def _number_formats(workbook) -> list[str]:
    """The number format of each cell style, by style id (what ``ReadOnlyCell.number_format`` looks up)."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE  # type: ignore[import-untyped]

    formats = []
    for style in workbook._cell_styles:
        number = style.numFmtId
        if number < BUILTIN_FORMATS_MAX_SIZE:
            formats.append(BUILTIN_FORMATS.get(number, "General"))
        else:
            formats.append(workbook._number_formats[number - BUILTIN_FORMATS_MAX_SIZE])
    return formats or ["General"]


def _date_text(value, date_format: str) -> str:
    """A date cell in the district's ``date_format``; a time of day or a duration as Excel shows it."""
    import datetime as dt

    if isinstance(value, dt.datetime | dt.date):
        return value.strftime(date_format)
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds")
    return str(value)


def _no_repeated_header(where: str, table: pa.Table, columns: dict[str, str], row_numbers: np.ndarray) -> None:
    """A row that is the header again means two exports were pasted into one sheet: not one roster."""
    if table.num_rows == 0:
        return
    same = np.ones(table.num_rows, dtype=bool)
    for field, name in columns.items():
        same &= np.asarray(table[field].to_numpy(zero_copy_only=False) == name)
    if same.any():
        raise InputError(
            f"{where} row {int(row_numbers[int(np.argmax(same))])}: the header row appears again: are two exports "
            "pasted into one sheet? Send one export with one header row"
        )


__all__ = ["read_workbook"]
