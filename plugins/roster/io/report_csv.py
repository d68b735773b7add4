"""The report CSVs people open in a spreadsheet: written by one writer, read back by one reader.

``rejects.csv``, ``changes.csv``, ``crossmatch_report.csv``, ``missing_<table>.csv`` and
``reconcile_report.csv`` are all written by ``roster.fast.arrow.csv_bytes`` (a frame; ``rows_bytes``
here turns a list of rows into one): minimal quoting, ``\\n`` row ends, and every text value a
spreadsheet would run as a formula neutralized with a leading ``'`` (``roster.fast.cells``; plain
numbers such as ``-1`` are left as they are). Code that reads such a report back uses ``read_rows`` or
``read_frame``, which un-neutralize, so it sees exactly the values that were written.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from roster.fast.arrow import csv_bytes, frame_of, text
from roster.fast.cells import unneutralize, unneutralized

if TYPE_CHECKING:
    import pandas as pd


def rows_bytes(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """A report of ``rows`` under ``header``: integer columns as numbers, every other value as text."""
    import pandas as pd

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    frame = pd.DataFrame(
        {
            at: pd.Series(values, dtype="int64")
            if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values)
            else pd.Series([str(v) for v in values], dtype="str")
            for at, values in enumerate(columns)
        },
        index=pd.RangeIndex(len(rows)),
    )
    frame.columns = list(header)
    return csv_bytes(frame)


def read_rows(path: Path) -> list[dict[str, str]]:
    """A report's rows as dicts of its values, un-neutralized (small reports: emails, checks)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [{key: unneutralize(value) for key, value in row.items()} for row in csv.DictReader(handle)]


def read_frame(path: Path) -> pd.DataFrame:
    """A report as a frame of ``str`` columns (a missing value reads as ""), un-neutralized."""
    import pandas as pd

    frame = pd.read_csv(path, dtype="str", keep_default_na=False)
    return frame_of({str(name): unneutralized(text(frame[name])) for name in frame.columns}, len(frame))
