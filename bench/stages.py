"""Where a ``roster run`` spends its time: the real command, with its steps timed.

    python bench/stages.py -- run --district ID --input FILE --out DIR --date D [--previous FILE] ...

Runs ``roster.cli.main`` with the given arguments in this process, after wrapping the functions the
command calls (reading, validation, roster frame, diff, rendering, writing) with timers. Prints one
JSON object: seconds per step (inclusive of what the step calls, exclusive of the steps nested in
it), the imports before the command starts, and the total.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time

START = time.perf_counter()

import roster.cli  # noqa: E402  (the command's own import cost is part of what is measured)

# The command imports its heavy modules lazily; import them now so they are counted as imports.
import roster.io.artifacts  # noqa: E402
import roster.io.export  # noqa: E402
import roster.io.roster_file  # noqa: E402
import roster.night.diff  # noqa: E402
import roster.night.pipeline  # noqa: E402
import roster.night.serialize  # noqa: E402
import roster.rules.model  # noqa: E402

IMPORTED = time.perf_counter()

#: (module, function, step name): every place the command calls it through gets the timed version.
STEPS = [
    (roster.io.export, "read_export", "read export (pyarrow CSV, trim, NFC)"),
    (roster.night.pipeline, "read_export", "read export (pyarrow CSV, trim, NFC)"),
    (roster.rules.model, "find_rejects", "validate (pandera: the rule catalog's kernels)"),
    (roster.night.pipeline, "find_rejects", "validate (pandera: the rule catalog's kernels)"),
    (roster.night.serialize, "roster_frame", "roster frame (codes, dates, status)"),
    (roster.night.pipeline, "roster_frame", "roster frame (codes, dates, status)"),
    (roster.io.roster_file, "parse_roster", "read last delivered roster"),
    (roster.night.pipeline, "parse_roster", "read last delivered roster"),
    (roster.night.diff, "compare", "diff (keyed join, field compare)"),
    (roster.night.pipeline, "compare", "diff (keyed join, field compare)"),
    (roster.night.diff, "with_carried", "carried students appended"),
    (roster.night.pipeline, "with_carried", "carried students appended"),
    (roster.io.roster_file, "render_lines", "render (sort ids, join lines)"),
    (roster.night.pipeline, "render_lines", "render (sort ids, join lines)"),
    (roster.night.pipeline, "write_roster", "write roster file (lines gathered in id order)"),
    (roster.io.artifacts, "write_bytes", "write files"),
]

totals: dict[str, float] = {}
stack: list[list[float]] = []


def timed(function, name):
    def wrapper(*args, **kwargs):
        stack.append([time.perf_counter(), 0.0])
        try:
            return function(*args, **kwargs)
        finally:
            started, nested = stack.pop()
            spent = time.perf_counter() - started
            totals[name] = totals.get(name, 0.0) + spent - nested
            if stack:
                stack[-1][1] += spent

    return wrapper


originals = {}
for module, attribute, name in STEPS:
    function = getattr(module, attribute)
    key = id(function)
    if key not in originals:
        originals[key] = timed(function, name)
    setattr(module, attribute, originals[key])


def main(argv: list[str]) -> None:
    before = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = roster.cli.main(argv)
    end = time.perf_counter()
    command = end - before
    stages = {"imports (pyarrow, pandas, pandera, roster)": IMPORTED - START, **totals}
    stages["other (QA verdict, accepted rows, frames, JSON)"] = command - sum(totals.values())
    print(json.dumps({"exit_code": code, "total": end - START, "stages": stages}))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[1:] if args[:1] == ["--"] else args)
