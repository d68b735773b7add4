"""The validation engine, chosen with numbers: the rules run directly on Arrow vs pandera's validate.

    python bench/engines.py EXPORT [--repeat 3]

Reads the export once, then times, in this process, ``roster.rules.checks.find_rejects`` (the night's
executor: every rule of the model on its column's Arrow data, all at once on the cores) against
``find_rejects_by_model`` (the pandera ``DataFrameModel`` with the same checks calling the same rule
functions, one lazy ``validate`` call), the median of ``--repeat`` runs each, interleaved; and, in fresh
processes, what importing pandera adds to a process that has pandas already. Both must give the
same rejects (asserted). Prints one JSON object.
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

REPO = Path(__file__).resolve().parents[1]


def _import_seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout) for _ in range(3)]
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from roster.io.export import read_export
    from roster.night.pipeline import Night
    from roster.rules.checks import find_rejects, find_rejects_by_model

    night = Night.load(REPO / "include", "sample_isd", dt.date(2026, 11, 20))
    frame = read_export(args.export, night.district.source).table.to_pandas()
    # pandera's first validate imports its backends; that cost is measured below, in fresh processes.
    find_rejects_by_model(frame.head(100), night.rules)
    seconds: dict[str, list[float]] = {"arrow": [], "pandera": []}
    results = {}
    for _ in range(args.repeat):
        for name, engine in (("arrow", find_rejects), ("pandera", find_rejects_by_model)):
            started = time.perf_counter()
            results[name] = engine(frame, night.rules)
            seconds[name].append(time.perf_counter() - started)
    assert results["arrow"].equals(results["pandera"]), "the two engines disagree"
    pandas_alone = _import_seconds("import pandas")
    with_pandera = _import_seconds(
        "import pandas, pandera.pandas, pandera.backends.pandas.builtin_checks, pandera.backends.pandas.container"
    )
    print(json.dumps({
        "rows": len(frame),
        "rejects": len(results["arrow"]),
        "arrow": statistics.median(seconds["arrow"]),
        "pandera": statistics.median(seconds["pandera"]),
        "pandera_import": with_pandera - pandas_alone,
    }))


if __name__ == "__main__":
    main()
