"""Checking and sorting alone: the night's reader and rules, then pyarrow's standard calls, nothing else.

    python bench/check_sort.py INPUT OUTPUT

Reads the export with the night's reader, runs the rule catalog's kernels (``roster.rules.catalog``)
directly on the Arrow columns, without pandera, drops the rejected rows, puts the rest in State Test
Number order with one ``Table.take``, and writes them with pyarrow's CSV writer. It leaves out what the night must also do (cross-match codes, dates re-rendered,
status words, the layout's columns and line ends, reports, the diff): its ratio to the floor is what
checking every value and putting the rows in id order cost, done the plain pyarrow way.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

REPO = Path(__file__).resolve().parents[1]


def main(source: str, target: str) -> None:
    from roster.fast import ids
    from roster.fast.arrow import parallel
    from roster.io.export import read_export
    from roster.night.pipeline import Night
    from roster.rules.catalog import RULES
    from roster.rules.model import columns_of

    night = Night.load(REPO / "include", "sample_isd", dt.date(2026, 11, 20))
    table = read_export(Path(source), night.district.source).table
    kernels = [(rule.kernel_of(night.rules), columns_of(rule)) for rule in RULES]
    checks = [
        (column, kernel) for kernel, columns in kernels if kernel for column in columns if column in table.column_names
    ]
    rejected = np.logical_or.reduce(parallel(lambda check: ~check[1](table[check[0]]), checks))
    keep = np.flatnonzero(~rejected)
    packed = ids.keys_of(table["state_test_number"])
    if packed is not None and packed[0].all_fit:
        order = keep[np.argsort(packed[0].keys[keep], kind="stable")]
    else:
        kept = table["state_test_number"].take(pa.array(keep))
        order = keep[np.asarray(pc.sort_indices(kept))]
    table = table.drop_columns(["row_number"]).take(pa.array(order))
    pacsv.write_csv(table, target, write_options=pacsv.WriteOptions(delimiter="|"))


if __name__ == "__main__":
    main(*sys.argv[1:3])
