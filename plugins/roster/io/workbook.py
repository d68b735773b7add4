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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from roster.config import REQUIRED_FIELDS
from roster.errors import InputError
from roster.io.exported import Export, _normalize
from roster.io.number_format import SIGNIFICANT_DIGITS, render_number
from roster.io.sheet_xml import FORMULA, VALUE, SheetRows, inline_text

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
        book = _load(path, handle)
        try:
            chosen = _pick_sheet(path, book, sheet)
            where = f"{path}: sheet {chosen.title!r}"
            grid = _Grid(where, book, chosen, dict(columns), required, date_format)
            values, row_numbers = grid.read()
        finally:
            book.archive.close()
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


@dataclass
class _Sheet:
    """One sheet as the workbook lists it; ``part`` is its XML part in the archive (None: a chart sheet)."""

    title: str
    state: str
    part: str | None


@dataclass
class _Book:
    """What reading one sheet needs: the styles (number and date formats), shared strings, the sheets."""

    workbook: Any
    archive: zipfile.ZipFile
    shared: list
    sheets: list[_Sheet]


def _load(path: Path, handle) -> _Book:
    from xml.etree.ElementTree import ParseError

    from openpyxl.reader.excel import ExcelReader  # type: ignore[import-untyped]
    from openpyxl.styles.stylesheet import apply_stylesheet  # type: ignore[import-untyped]
    from openpyxl.utils.exceptions import InvalidFileException  # type: ignore[import-untyped]

    try:
        # openpyxl's loader step by step, less its sheets: opening a read-only sheet scans the whole
        # sheet when the file does not declare its size (files written by scripts), and it opens
        # every sheet. A file object, not the path: openpyxl would refuse a name not ending in .xlsx.
        reader = ExcelReader(handle, read_only=True, keep_vba=False, data_only=False, keep_links=False)
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        sheets = [
            _Sheet(sheet.name, sheet.state or "visible", None if "chartsheet" in rel.Type else rel.target)
            for sheet, rel in reader.parser.find_sheets()
            if rel.target in reader.valid_files
        ]
    except (zipfile.BadZipFile, InvalidFileException, ParseError, KeyError, ValueError, TypeError, AttributeError):
        # A zip without a workbook part (a OneRoster bundle, an .ods), or parts openpyxl cannot parse.
        raise InputError(f"{path}: a zip archive, but not an Excel workbook (.xlsx) that can be read") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    return _Book(reader.wb, reader.archive, reader.shared_strings, sheets)


def _sheet_list(book: _Book) -> str:
    return ", ".join(repr(sheet.title) for sheet in book.sheets)


def _pick_sheet(path: Path, book: _Book, sheet: str | int | None) -> _Sheet:
    """The sheet named or numbered by ``source.sheet``, or the first; it must be a visible sheet of cells."""
    names = [known.title for known in book.sheets]
    if isinstance(sheet, str):
        if sheet not in names:
            raise InputError(f"{path}: no sheet named {sheet!r} (source.sheet); the sheets are {_sheet_list(book)}")
        chosen = book.sheets[names.index(sheet)]
    else:
        index = 0 if sheet is None else sheet
        if not 0 <= index < len(names):
            raise InputError(
                f"{path}: no sheet at index {index} (source.sheet counts from 0); "
                f"the workbook has {len(names)} sheet(s): {_sheet_list(book)}"
            )
        chosen = book.sheets[index]
    which = "the first sheet" if sheet is None else "sheet"
    if chosen.part is None:
        raise InputError(f"{path}: {which} {chosen.title!r} is a chart, not a sheet of cells; set source.sheet")
    if chosen.state != "visible":
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

    def __init__(self, where: str, book: _Book, sheet: _Sheet, columns: dict[str, str], required, date_format: str):
        self.where = where
        self.book = book
        self.sheet = sheet
        self.columns = columns
        self.required = required
        self.cells = _Cells(book, date_format)
        self.header_row = 0
        self.positions: dict[str, int] = {}  # field -> 1-based column

    def read(self) -> tuple[dict[str, list[str]], np.ndarray]:
        lists: dict[str, list[str]] = {field: [] for field in self.columns}
        numbers: list[int] = []
        assert self.sheet.part is not None  # _pick_sheet refuses chart sheets
        rows = SheetRows(self.book.archive.open(self.sheet.part))
        mapped: list[tuple[int, list[str], str]] = []
        for number, cells in rows:
            if not self.header_row:
                if any(self._shows(cell) for cell in cells.values()):
                    self._header(number, cells)
                    mapped = [(column, lists[field], self.columns[field]) for field, column in self.positions.items()]
                continue
            if not cells:
                continue
            texts = [self._text(cells.get(column), name, number, column) for column, _, name in mapped]
            if not any(text.strip(" ") for text in texts) and not any(self._shows(cell) for cell in cells.values()):
                continue
            for (_, values, _), text in zip(mapped, texts, strict=True):
                values.append(text)
            numbers.append(number)
        if not self.header_row:
            raise InputError(f"{self.where} is empty; expected a header row")
        self._no_merged_cells(rows.merged)
        return lists, np.asarray(numbers, dtype=np.int64)

    def _shows(self, cell) -> bool:
        """Whether a cell holds anything (a formula, or a value that is not only spaces)."""
        return cell.find(FORMULA) is not None or bool(self.cells.text(cell).strip(" "))

    def _header(self, number: int, cells: dict[int, Any]) -> None:
        self.header_row = number
        names: dict[int, str] = {}
        for column, cell in cells.items():
            if cell.find(FORMULA) is not None:
                raise InputError(
                    f"{self.where} cell {_cell_name(column, number)}: a formula in the header row; "
                    "save the sheet's values, not its formulas"
                )
            names[column] = self.cells.text(cell).strip()
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

    def _text(self, cell, name: str, number: int, column: int) -> str:
        if cell is None:
            return ""
        if cell.find(FORMULA) is not None:
            raise InputError(
                f"{self.where} cell {_cell_name(column, number)} ({name}): "
                "a formula, not a value; save the sheet's values instead of its formulas "
                "(copy the sheet, then Paste Special > Values)"
            )
        return self.cells.text(cell)

    def _no_merged_cells(self, merged: list[str]) -> None:
        from openpyxl.utils.cell import range_boundaries  # type: ignore[import-untyped]

        mapped = {column: self.columns[field] for field, column in self.positions.items()}
        for ref in merged:
            low_col, _, high_col, high_row = range_boundaries(ref)
            touched = [mapped[c] for c in sorted(mapped) if low_col <= c <= high_col]
            if touched and high_row >= self.header_row:
                raise InputError(
                    f"{self.where} cells {ref}: merged cells (column {touched[0]!r}); a merged cell "
                    "holds its value in its first row only: unmerge them and fill in every row"
                )


class _Cells:
    """A ``<c>`` element's value as the sheet shows it (see the module's docstring).

    Numbers and dates are rendered once per distinct (value, style): a sheet repeats them (scores,
    campus codes, dates of birth), and a zero-padded id takes the short path of ``_padded``.
    """

    def __init__(self, book: _Book, date_format: str):
        workbook = book.workbook
        self.shared: list = book.shared
        self.formats = _number_formats(workbook)
        self.padding = [_padding(number_format) for number_format in self.formats]
        self.date_styles = frozenset(workbook._date_formats)
        self.duration_styles = frozenset(workbook._timedelta_formats)
        self.epoch = workbook.epoch
        self.date_format = date_format
        self.rendered: dict[tuple[str, int], str] = {}

    def text(self, cell) -> str:
        kind = cell.get("t", "n")
        if kind == "inlineStr":
            return inline_text(cell)
        value = cell.findtext(VALUE)
        if not value:
            return ""
        if kind == "n":
            return self._number(value, int(cell.get("s") or 0))
        if kind == "s":
            return str(self.shared[int(value)])
        return self._other(kind, value)

    def _other(self, kind: str, value: str) -> str:
        if kind == "b":
            return "TRUE" if value.strip() == "1" else "FALSE"
        if kind == "d":
            from openpyxl.utils.datetime import from_ISO8601  # type: ignore[import-untyped]

            return _date_text(from_ISO8601(value), self.date_format)
        return value  # "str" (a formula's text result), "e" (an error: #N/A)

    def _number(self, value: str, style: int) -> str:
        width = self.padding[style] if style < len(self.padding) else 0
        if width and value.isdigit() and (value[0] != "0" or len(value) == 1) and len(value) <= SIGNIFICANT_DIGITS:
            return value.rjust(width, "0")
        key = (value, style)
        shown = self.rendered.get(key)
        if shown is None:
            if len(self.rendered) > _RENDERED_MAX:
                self.rendered.clear()
            shown = self.rendered[key] = self._render(value, style)
        return shown

    def _render(self, value: str, style: int) -> str:
        from openpyxl.utils.datetime import from_excel

        number = _cast_number(value)
        if style in self.date_styles:
            try:
                moment = from_excel(number, self.epoch, timedelta=style in self.duration_styles)
            except (OverflowError, ValueError):
                return "#VALUE!"  # a date serial outside Excel's dates: Excel shows an error too
            return _date_text(moment, self.date_format)
        return render_number(number, self.formats[style] if style < len(self.formats) else "General")


#: Distinct (value, style) renderings kept; past it the cache starts again (ids are not repeated).
_RENDERED_MAX = 1 << 16


def _cast_number(value: str) -> int | float:
    """A ``<v>`` number as openpyxl casts it: an int when it has no point or exponent."""
    if "." in value or "E" in value or "e" in value:
        return float(value)
    return int(value)


def _padding(number_format: str) -> int:
    """The width of a format of zeros only (``0000000``), where an integer is just padded; else 0."""
    return len(number_format) if number_format and set(number_format) == {"0"} else 0


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
