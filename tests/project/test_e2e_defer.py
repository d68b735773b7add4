"""make e2e's deferral drill (scripts/e2e_defer.py): wired into scripts/e2e.sh with a late night and
two on-time districts, and its "both workers busy at once" measure.

The drill itself needs the whole topology: it runs in `make e2e`.
"""

from __future__ import annotations

import importlib
import re
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
e2e_defer = importlib.import_module("e2e_defer")


def test_e2e_runs_the_deferral_drill_on_a_night_without_its_export() -> None:
    e2e = (REPO / "scripts" / "e2e.sh").read_text()
    assert "checks scripts/e2e_defer.py" in e2e and "--other-dag" in e2e
    night = re.search(r"^DEFER_NIGHT=(\S+)", e2e, re.MULTILINE)
    assert night is not None
    # No other phase uses the late night, and its export is not laid in the include root.
    others = re.findall(r"^(?:NIGHT|DRILL_\w+_NIGHT)=(\S+)", e2e, re.MULTILINE)
    backfill = re.search(r'^BACKFILL_NIGHTS="([^"]*)"', e2e, re.MULTILINE)
    assert backfill is not None
    assert night.group(1) not in [*others, *backfill.group(1).split()]
    assert "$BACKFILL_NIGHTS $DRILL_WORKER_NIGHT $DRILL_SCHEDULER_NIGHT $DRILL_DATABASE_NIGHT; do" in e2e
    # The trigger looks again within seconds, not the default five minutes.
    poke = re.search(r"^export ROSTER_SENSOR_POKE_SECONDS=(\d+)$", e2e, re.MULTILINE)
    assert poke is not None and int(poke.group(1)) <= 5


def _ti(task: str, host: str, start: str, end: str) -> dict[str, str]:
    return {
        "dag_id": "roster_x",
        "task_id": task,
        "hostname": host,
        "start_date": f"2026-11-27T08:00:{start}Z",
        "end_date": f"2026-11-27T08:00:{end}Z",
    }


def test_both_busy_counts_only_time_two_different_workers_overlap() -> None:
    seconds, example = e2e_defer._both_busy(
        [_ti("a", "worker1", "00", "10"), _ti("b", "worker1", "05", "15"), _ti("c", "worker2", "08", "20")]
    )
    # a and c overlap 2 s, b and c 7 s; a and b share a worker and do not count.
    assert seconds == 9.0 and "worker2" in example
    assert e2e_defer._both_busy([_ti("a", "worker1", "00", "10"), _ti("c", "worker2", "10", "20")]) == (0.0, "")
