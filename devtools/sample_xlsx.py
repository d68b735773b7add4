"""The sample district's export as an Excel workbook: the same students as the CSV, typed as an SIS
that writes workbooks types them (``include/districts/sample_isd_xlsx.yaml``, ``make demo FORMAT=xlsx``).

State IDs and campus codes are numbers with a zero-padding number format (``0004000007`` is 4000007
shown as ``0000000000``), ELA scores plain numbers, math scores numbers shown with ``0.0``, grades
``01``..``12`` numbers shown as ``00`` (``KG`` stays text), dates of birth date cells displayed as
``yyyy-mm-dd`` (the reader takes them in the district's ``date_format`` whatever the display). A
value that is not what its column should hold (the broken rows: ``12-34``, ``02/30/2012``, ``n/a``)
stays text, as an SIS would write it. So the workbook reads as the CSV does, value for value.

Written with openpyxl in write-only mode (streamed, so a benchmark's 100k rows fit). No timestamp
inside varies: the same rows always give the same bytes. Workbooks are generated, never committed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from devtools.sample import HEADER, generate_rows, render_csv

#: A fixed creation time: openpyxl would otherwise stamp the workbook with now.
_CREATED = dt.datetime(2026, 1, 1)
_ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def typed(header: str, value: str, date_format: str = "%m/%d/%Y") -> tuple[object, str | None]:
    """A sample value as an SIS writing a workbook stores it, and its number format (None: General)."""
    if value == "":
        return None, None
    if header in ("STATE_ID", "CAMPUS", "GRADE") and value.isdigit() and len(value) <= 15:
        return int(value), "0" * len(value)
    if header == "ELA_SCORE" and value.isdigit() and str(int(value)) == value:
        return int(value), None
    if header == "MATH_SCORE" and re.fullmatch(r"\d+\.\d", value):
        return float(value), "0.0"
    if header == "DOB":
        try:
            return dt.datetime.strptime(value, date_format), "yyyy-mm-dd"
        except ValueError:
            pass
    return value, None


def write_workbook(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[str]], date_format: str = "%m/%d/%Y"
) -> Path:
    """``header`` then ``rows`` (CSV values) as a one-sheet workbook ``Students``, cells typed by ``typed``.

    A row longer than the header (a ragged CSV row) keeps its surplus values in columns without a
    header, which a reader ignores; an empty row is a blank row (its number kept).
    """
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]

    workbook = Workbook(write_only=True)
    workbook.properties.created = workbook.properties.modified = _CREATED
    sheet = workbook.create_sheet("Students")
    sheet.append(list(header))
    for row in rows:
        cells = []
        for column, value in enumerate(row):
            name = header[column] if column < len(header) else ""
            cell_value, number_format = typed(name, value, date_format)
            cell = WriteOnlyCell(sheet, value=cell_value)
            if isinstance(cell_value, str):
                cell.data_type = "s"  # text, even when it starts with "=" (openpyxl would make it a formula)
            if number_format:
                cell.number_format = number_format
            cells.append(cell)
        sheet.append(cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(_fixed_times(buffer.getvalue()))
    return path


def _fixed_times(data: bytes) -> bytes:
    """The archive again with every member's time fixed: the zip stores the time of writing."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(member, source.read(info.filename))
    return out.getvalue()


def workbook_from_csv(csv_path: Path, path: Path, date_format: str = "%m/%d/%Y") -> Path:
    """A comma-delimited UTF-8 export (the sample's, or a benchmark's) as a workbook of the same students."""
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return write_workbook(path, header, reader, date_format)


def write_sample_workbook(
    path: Path, rows: int = 300, roster_date: dt.date = dt.date(2026, 11, 20), seed: int = 7
) -> Path:
    """The sample district's export (``devtools.sample``'s students, broken rows included) as a workbook."""
    text = render_csv(generate_rows(rows, roster_date, seed)).decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    assert header == HEADER
    return write_workbook(path, header, reader)


def main() -> None:
    parser = argparse.ArgumentParser(description="write the sample district's export as an Excel workbook")
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2026, 11, 20))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--from-csv", type=Path, help="convert this comma-delimited UTF-8 export instead")
    args = parser.parse_args()
    if args.from_csv:
        workbook_from_csv(args.from_csv, args.path)
    else:
        write_sample_workbook(args.path, args.rows, args.date, args.seed)


if __name__ == "__main__":
    main()
