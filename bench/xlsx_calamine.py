"""The project's Excel reader against python-calamine on the same workbook (not part of ``make bench``).

    .venv/bin/python -m pip install --target /tmp/calamine python-calamine
    PYTHONPATH=/tmp/calamine .venv/bin/python bench/xlsx_calamine.py [--rows 50000] [--repeat 5]

python-calamine is not a dependency: it is installed aside, so the project's environment is not
changed. The workbook is ``bench/xlsx.py``'s (``devtools.sample_xlsx``: State IDs, campus codes and
grades numbers with zero-padding formats, dates of birth date cells, math scores shown ``0.0``).

Three readers, each once to warm up, then interleaved, median of ``--repeat``:

* ``read_workbook``: the night's reader (``roster.io.workbook``), the whole ``Export``: every cell as
  the sheet shows it, formulas, merged cells and hidden sheets checked.
* ``calamine values``: ``CalamineWorkbook.from_path(...).get_sheet_by_name(...).to_python()``, the
  typed values and nothing else: the least calamine can cost.
* ``calamine text``: those values made text the only way calamine allows (it gives no number
  formats): ints as digits, floats without a trailing ``.0``, dates in ``date_format``; then the same
  Arrow table. Its cells are compared with ``read_workbook``'s, column by column.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]


def _calamine_values(path: Path, sheet: str) -> list[list[Any]]:
    from python_calamine import CalamineWorkbook  # type: ignore[import-not-found]

    with CalamineWorkbook.from_path(str(path)) as book:
        return book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)


def _text(value: Any, date_format: str) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date):
        return value.strftime(date_format)
    return str(value).strip()


def _calamine_text(path: Path, sheet: str, columns: dict[str, str], date_format: str) -> Any:
    import pyarrow as pa

    grid = _calamine_values(path, sheet)
    header = [str(h).strip() for h in grid[0]]
    at = {field: header.index(name) for field, name in columns.items()}
    numbers, out = [], {field: [] for field in columns}  # type: dict[str, list[str]]
    for number, row in enumerate(grid[1:], start=2):
        if not any(v not in ("", None) for v in row):
            continue
        numbers.append(number)
        for field, index in at.items():
            out[field].append(_text(row[index], date_format) if index < len(row) else "")
    table = pa.table({field: pa.array(values, pa.large_string()) for field, values in out.items()})
    return table.append_column("row_number", pa.array(numbers, pa.int64()))


def measure(rows: int, work: Path, repeat: int) -> dict:
    from xlsx import workbook  # bench/xlsx.py, beside this script: the same generated workbook

    from roster.config import District
    from roster.config.files import read_yaml
    from roster.io.workbook import read_workbook

    _, path = workbook(rows, work)
    source = District.model_validate(read_yaml(REPO / "include" / "districts" / "sample_isd_xlsx.yaml")).source
    columns, sheet = source.columns.mapped(), str(source.sheet)

    readers: dict[str, Callable[[], Any]] = {
        "read_workbook": lambda: read_workbook(path, columns, sheet=sheet, date_format=source.date_format).table,
        "calamine values": lambda: _calamine_values(path, sheet),
        "calamine text": lambda: _calamine_text(path, sheet, columns, source.date_format),
    }
    results: dict[str, Any] = {name: read() for name, read in readers.items()}  # imports and caches warm
    times: dict[str, list[float]] = {name: [] for name in readers}
    for _ in range(repeat):
        order = list(readers)
        random.shuffle(order)
        for name in order:
            started = time.perf_counter()
            results[name] = readers[name]()
            times[name].append(time.perf_counter() - started)
    median = {name: statistics.median(t) for name, t in times.items()}

    ours, theirs = results["read_workbook"], results["calamine text"]
    assert ours["row_number"].to_pylist() == theirs["row_number"].to_pylist()
    differ = {}
    examples = {}
    for field in columns:
        a, b = ours[field].to_pylist(), theirs[field].to_pylist()
        bad = [(x, y) for x, y in zip(a, b, strict=True) if (x or "") != y]
        if bad:
            differ[field] = len(bad)
            examples[field] = bad[0]
    return {"rows": rows, "median_s": median, "cells_differ": differ, "examples": examples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    result = measure(args.rows, args.work, args.repeat)
    base = result["median_s"]["read_workbook"]
    print(f"{result['rows']:,} students, median of {args.repeat}:")
    for name, seconds in result["median_s"].items():
        print(f"  {name:16} {seconds:7.3f} s  {seconds / base:5.2f}x read_workbook")
    print(f"  rows whose cells differ from read_workbook's, by field: {result['cells_differ'] or 'none'}")
    for field, (ours, theirs) in result["examples"].items():
        print(f"    {field}: read_workbook {ours!r}, calamine {theirs!r}")


if __name__ == "__main__":
    main()
