"""One streaming pass over a worksheet's XML part: each row's cells as elements, by 1-based column.

openpyxl's read-only sheet parser turns every cell of every column into a Python dict (value cast,
shared string looked up, coordinate split) before anyone looks at it: about 20 µs a cell, ~650 times
the CSV reader. Here the C parser builds the elements (ElementTree's ``iterparse``, as openpyxl
does) and Python reads a cell's value only when asked (``roster.io.workbook`` asks for the mapped columns); each row is dropped from the tree
once read, so memory stays flat however long the sheet. What a cell's value means (shared strings,
number formats, dates) is the caller's (``roster.io.workbook``).

Rows carry the sheet's own numbers (``<row r=...>``), and cells their column (``<c r="B7">``); a
writer that leaves them out counts on from the previous one, as Excel does. ``merged`` collects the
ranges of ``<mergeCell>``, which come after the rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
ROW, CELL, VALUE, FORMULA, INLINE = (MAIN + tag for tag in ("row", "c", "v", "f", "is"))
TEXT, RUN, SHEET_DATA, MERGE_CELL = (MAIN + tag for tag in ("t", "r", "sheetData", "mergeCell"))

_DIGITS = "0123456789"


def column_number(letters: str, cache: dict[str, int]) -> int:
    """``"AB"`` -> 28 (cached: a sheet has few distinct column letters)."""
    number = cache.get(letters)
    if number is None:
        number = 0
        for char in letters.upper():
            number = number * 26 + ord(char) - 64
        cache[letters] = number
    return number


class SheetRows:
    """The rows of one worksheet part, each as ``(row number, {column: <c> element})``.

    ``merged`` holds the merged ranges (``"A2:A5"``) once the rows are exhausted.
    """

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.merged: list[str] = []
        self._letters: dict[str, int] = {}

    def __iter__(self) -> Iterator[tuple[int, dict[int, Any]]]:
        from xml.etree.ElementTree import iterparse

        sheet_data = None
        number = 0
        letters = self._letters
        for event, element in iterparse(self.source, events=("start", "end")):
            tag = element.tag
            if event == "start":
                if tag == SHEET_DATA:
                    sheet_data = element
                continue
            if tag == ROW:
                declared = element.get("r")
                number = int(declared) if declared else number + 1
                cells: dict[int, Any] = {}
                column = 0
                for cell in element.iter(CELL):
                    ref = cell.get("r")
                    column = column_number(ref.rstrip(_DIGITS), letters) if ref else column + 1
                    cells[column] = cell
                yield number, cells
                element.clear()
                if sheet_data is not None:
                    sheet_data.remove(element)
            elif tag == MERGE_CELL:
                ref = element.get("ref")
                if ref:
                    self.merged.append(ref)


def inline_text(cell: Any) -> str:
    """An inline string's text: its ``<t>``, or its rich-text runs' ``<t>`` (phonetic runs left out)."""
    holder = cell.find(INLINE)
    if holder is None:
        return ""
    plain = holder.find(TEXT)
    if plain is not None:
        return plain.text or ""
    return "".join(run.findtext(TEXT) or "" for run in holder.iter(RUN))


__all__ = ["SheetRows", "column_number", "inline_text"]
