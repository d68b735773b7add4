"""The Excel reader against the CSV reader on the same students (part of ``make bench``).

    python bench/xlsx.py [--rows 50000] [--repeat 3]

One export of ``--rows`` students (``devtools.sample.write_large_export``) and the same students as
a workbook (``devtools.sample_xlsx``: ids as numbers with zero-padding formats, dates of birth as
date cells, shared by every row of a column); each read by the night's reader (``read_export``) in
this process, median of ``--repeat``; the tables compared value for value (the CSV's ragged rows
left out: a sheet has none). Rows are capped: a workbook holds at most 1,048,576 rows, and
openpyxl writes one at about 3,000 rows a second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]


def workbook(rows: int, work: Path) -> tuple[Path, Path]:
    """A generated export of ``rows`` students under ``work``, as CSV and as its workbook twin (made once)."""
    from devtools.sample import write_large_export
    from devtools.sample_xlsx import workbook_from_csv

    csv_path, xlsx_path = work / f"xlsx_{rows}.csv", work / f"xlsx_{rows}.xlsx"
    if not xlsx_path.is_file():
        write_large_export(csv_path, rows)
        workbook_from_csv(csv_path, xlsx_path)
    return csv_path, xlsx_path


def measure(rows: int, work: Path, repeat: int) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc

    from roster.config import District
    from roster.config.files import read_yaml
    from roster.io.export import read_export

    csv_path, xlsx_path = workbook(rows, work)
    data = read_yaml(REPO / "include" / "districts" / "sample_isd_xlsx.yaml")
    xlsx_source = District.model_validate(data).source
    csv_data = {**data, "source": {k: v for k, v in data["source"].items() if k not in ("format", "sheet")}}
    csv_source = District.model_validate(csv_data).source

    def best(path, source):
        times, export = [], None
        for _ in range(repeat):
            started = time.perf_counter()
            export = read_export(path, source)
            times.append(time.perf_counter() - started)
        return statistics.median(times), export

    csv_time, from_csv = best(csv_path, csv_source)
    xlsx_time, from_xlsx = best(xlsx_path, xlsx_source)
    assert from_csv is not None and from_xlsx is not None
    ragged = pa.array(from_csv.ragged_rows, pa.int64())
    sheet = from_xlsx.table.filter(pc.invert(pc.is_in(from_xlsx.table["row_number"], value_set=ragged)))
    return {
        "rows": rows,
        "csv_s": csv_time,
        "xlsx_s": xlsx_time,
        "ratio": xlsx_time / csv_time,
        "same_values": sheet.equals(from_csv.table),
        "workbook_mb": xlsx_path.stat().st_size / 1e6,
    }


def line(result: dict) -> str:
    return (
        f"xlsx vs csv, {result['rows']:,} students: csv {result['csv_s']:.3f} s, xlsx {result['xlsx_s']:.2f} s "
        f"({result['ratio']:.0f}x; workbook {result['workbook_mb']:.1f} MB; same values: {result['same_values']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(line(measure(args.rows, args.work, args.repeat)))


if __name__ == "__main__":
    main()
