"""The floor: an export read as text and written pipe-delimited by pyarrow alone, nothing else.

    python bench/floor.py INPUT OUTPUT

What no roster pipeline can beat on this machine: parse every value as a string (multi-threaded),
write every row back with ``|``. Rows the parser cannot split (ragged) are skipped, as the
pipeline rejects them.
"""

from __future__ import annotations

import sys

import pyarrow as pa
import pyarrow.csv as pacsv


def main(source: str, target: str) -> None:
    with open(source, "rb") as handle:
        header = handle.readline().decode("utf-8-sig").strip().split(",")
    table = pacsv.read_csv(
        source,
        read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda _row: "skip"),
        convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header}, strings_can_be_null=False),
    )
    pacsv.write_csv(table, target, write_options=pacsv.WriteOptions(delimiter="|"))


if __name__ == "__main__":
    main(*sys.argv[1:3])
