"""What pandera costs the night: ``find_rejects`` (pandera's validate running the catalog's kernels)
against the same kernels called directly.

    python bench/engines.py EXPORT [--repeat 3]

Reads the export once, then times, in this process and on the same frame,
``roster.rules.model.find_rejects`` (the schema built from the rule catalog, one lazy ``validate``, its
failure cases turned into the rejects table) against the bare kernels: every catalog rule's kernel
called on its column's Arrow strings, the failing positions found, nothing else. The median of
``--repeat`` runs each, interleaved. Both must find the same (row, field, reason) triples (asserted).
Also measured, in fresh processes: what importing pandera adds to a process that has pandas already.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _import_seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(3)
    ]
    return statistics.median(runs)


def bare_kernels(frame, rules) -> list[tuple[str, str, np.ndarray]]:
    """Every catalog kernel on its column: (column, reason, failing positions)."""
    from roster.rules.catalog import RULES
    from roster.rules.checks import column_text
    from roster.rules.model import columns_of

    kernels = [(rule, kernel) for rule in RULES if (kernel := rule.kernel_of(rules))]
    return [
        (column, rule.reason, np.flatnonzero(~kernel(column_text(frame[column]))))
        for rule, kernel in kernels
        for column in columns_of(rule)
        if column in frame.columns
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from roster.io.export import read_export
    from roster.night.pipeline import Night
    from roster.rules.model import find_rejects

    night = Night.load(REPO / "include", "sample_isd", dt.date(2026, 11, 20))
    frame = read_export(args.export, night.district.source).table.to_pandas()
    # pandera's first validate imports its backends; that cost is measured below, in fresh processes.
    find_rejects(frame.head(100), night.rules)
    engines = {"kernels": lambda: bare_kernels(frame, night.rules), "pandera": lambda: find_rejects(frame, night.rules)}
    seconds: dict[str, list[float]] = {name: [] for name in engines}
    results = {}
    for _ in range(args.repeat):
        for name, engine in engines.items():
            started = time.perf_counter()
            results[name] = engine()
            seconds[name].append(time.perf_counter() - started)
    rows = frame["row_number"].to_numpy()
    direct = {(int(rows[p]), column, reason) for column, reason, positions in results["kernels"] for p in positions}
    rejects = results["pandera"]
    assert direct == set(zip(rejects["row_number"].tolist(), rejects["field"], rejects["reason"], strict=True)), (
        "pandera and the kernels disagree"
    )
    pandas_alone = _import_seconds("import pandas")
    with_pandera = _import_seconds(
        "import pandas, pandera.pandas, pandera.backends.pandas.builtin_checks, pandera.backends.pandas.container"
    )
    print(
        json.dumps(
            {
                "rows": len(frame),
                "rejects": len(rejects),
                "kernels": statistics.median(seconds["kernels"]),
                "pandera": statistics.median(seconds["pandera"]),
                "pandera_import": with_pandera - pandas_alone,
            }
        )
    )


if __name__ == "__main__":
    main()
