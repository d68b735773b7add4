"""``make fleet``'s harness without its stack: the districts it lays out, what it reads from the
task and worker logs and from /proc, and the report it writes from those measurements.

The run itself (the whole topology, N nights) is `make fleet`; its numbers are in docs/SCALE.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
fleet_run = importlib.import_module("fleet_run")
fleet_report = importlib.import_module("fleet_report")

DAY = dt.date(2026, 11, 20)
RUN = "fleet_20261204T063934"


def test_districts_are_the_sample_under_their_own_ids_with_their_own_exports(tmp_path: Path) -> None:
    out = tmp_path / "include"
    ids = fleet_run.make_districts(REPO / "include", out, 3, DAY)
    assert ids == ["fleet_01", "fleet_02", "fleet_03"]
    assert sorted(p.stem for p in (out / "districts").glob("*.yaml")) == ids  # the samples are not in the fleet
    exports = [out / "inbound" / i / "roster_20261120.csv" for i in ids]
    counts = [sum(1 for _ in csv.reader(p.open(encoding="utf-8"))) - 1 for p in exports]
    assert all(1500 <= c <= 2000 for c in counts) and len(set(counts)) == 3, counts
    assert len({p.read_bytes()[:4000] for p in exports}) == 3  # a seed each: not the same students
    text = (out / "districts" / "fleet_02.yaml").read_text(encoding="utf-8")
    assert "sample_isd" not in text.replace("crossmatch: crossmatch/sample_isd", "")
    assert 'filename: "fleet_02_roster_{date:%Y%m%d}.txt"' in text
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ROSTER_"))}
    done = subprocess.run(
        [sys.executable, "-m", "roster.cli", "check-config", "--include-dir", str(out)],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 district file(s) valid" in done.stdout


def _record(stamp: str, event: str) -> str:
    return json.dumps({"timestamp": stamp, "level": "info", "event": event, "logger": "task"})


def test_log_marks_bracket_execute(tmp_path: Path) -> None:
    log = tmp_path / "attempt=1.log"
    log.write_text(
        "\n".join(
            [
                _record("2026-12-04T06:39:45.278185Z", "::group::Pre Execute"),
                "not json",
                _record("2026-12-04T06:39:53.276917Z", "::endgroup::"),
                _record("2026-12-04T06:39:53.779888Z", "::group::Post Execute"),
                _record("2026-12-04T06:39:53.827673Z", "::endgroup::"),
            ]
        ),
        encoding="utf-8",
    )
    marks = fleet_run.log_marks(log)
    assert marks["log_first"] == "2026-12-04T06:39:45.278185Z"
    assert fleet_run.inside_seconds(marks) == pytest.approx(0.502971)
    assert fleet_run.inside_seconds(fleet_run.log_marks(tmp_path / "missing.log")) is None


def test_worker_marks_follow_one_workload_through_the_celery_log(tmp_path: Path) -> None:
    cid, path = (
        "d77af112-59b0-42a8-add7-ab1a9a5d6414",
        f"dag_id=roster_fleet_01/run_id={RUN}/task_id=qa_gate/attempt=1.log",
    )
    (tmp_path / "worker1.log").write_text(
        f"2026-12-04T06:39:44.238942Z [info     ] Task execute_workload[{cid}] received [celery.worker.strategy]\n"
        f"2026-12-04T06:39:44.902578Z [info     ] [{cid}] Executing workload in Celery: dag_rel_path=x "
        f"log_path='{path}' ti=TaskInstanceDTO(...)\n"
        "2026-12-04T06:39:50.000000Z [info     ] Task execute_workload[other] received\n"
        f"2026-12-04T06:39:58.364341Z [info     ] Task execute_workload[{cid}] succeeded in 14.1s: None\n",
        encoding="utf-8",
    )
    marks = fleet_run.worker_marks([tmp_path / "worker1.log"])
    assert marks == {
        path: {
            "worker_received": "2026-12-04T06:39:44.238942Z",
            "worker_start": "2026-12-04T06:39:44.902578Z",
            "worker": "worker1",
            "worker_end": "2026-12-04T06:39:58.364341Z",
        }
    }


def test_cpu_seconds_counts_a_service_and_its_reaped_children() -> None:
    me = os.getpid()
    before = fleet_run.cpu_seconds({"me": me})["me"]
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)
    after = fleet_run.cpu_seconds({"me": me})["me"]
    assert after - before > 0.05  # the child's CPU time, reaped by this process, is in the sum


def _ti(dag: str, task: str, t0: float, queued: float, start: float, end: float, **extra: Any) -> dict[str, Any]:
    base = dt.datetime(2026, 12, 4, 6, 40, tzinfo=dt.UTC)

    def at(s: float) -> str:
        return (base + dt.timedelta(seconds=s)).isoformat()

    row = {
        "dag_id": dag,
        "task_id": task,
        "state": "success",
        "try_number": 1,
        "scheduled_dttm": at(t0),
        "queued_dttm": at(queued),
        "start_date": at(start),
        "end_date": at(end),
        "worker_start": at(start - 0.5),
        "worker_end": at(end + 0.5),
        "inside": (end - start) / 2,
    }
    row.update(extra)
    return row


def _measurements() -> dict[str, Any]:
    base = dt.datetime(2026, 12, 4, 6, 40, tzinfo=dt.UTC)
    tis = []
    for k, dag in enumerate(("roster_fleet_01", "roster_fleet_02")):
        o = 10.0 * k
        tis += [
            _ti(dag, "extract_export", o, o + 0.1, o + 1.0, o + 3.0),
            _ti(dag, "validate_export", o + 3.5, o + 3.6, o + 5.0, o + 9.0),
        ]
    return {
        "districts": 2,
        "executor": "celery",
        "workers": 2,
        "run_id": RUN,
        "logical_date": "2026-11-20T08:00:00Z",
        "cores": 2,
        "load_start": ["3.00", "2.00", "1.00"],
        "load_end": ["2.00", "2.00", "1.00"],
        "first_trigger": base.isoformat(),
        "cpu_before": {"worker1": 10.0, "worker2": 10.0, "scheduler": 5.0},
        "cpu_after": {"worker1": 14.0, "worker2": 12.0, "scheduler": 6.0},
        "runs": {
            d: {"state": "success", "start_date": tis[2 * k]["start_date"], "end_date": tis[2 * k + 1]["end_date"]}
            for k, d in enumerate(("roster_fleet_01", "roster_fleet_02"))
        },
        "task_instances": tis,
        "upstream": {"extract_export": [], "validate_export": ["extract_export"]},
        "delivered": {"fleet_01": True, "fleet_02": True},
    }


def test_report_numbers_and_projection_arithmetic(tmp_path: Path) -> None:
    data = _measurements()
    a = fleet_report.analyse(data)
    assert a["wall"] == pytest.approx(19.0)  # first trigger -> the last run's end
    assert a["worker_cpu_per_night"] == pytest.approx(3.0)  # (4 + 2) CPU-s over 2 nights
    assert a["ti_seconds_per_night"] == pytest.approx(6.0)  # 2 s + 4 s
    assert a["slot_seconds_per_night"] == pytest.approx(8.0)  # each held its worker 1 s longer
    assert a["gaps"]["end_to_start"] == [pytest.approx(2.0)] * 2  # extract ends at 3, validate starts at 5
    assert a["gaps"]["end_to_scheduled"] == [pytest.approx(0.5)] * 2
    text = fleet_report.render(data, load_before="1.0 1.0 1.0", note="test")
    assert "Measured on a loaded, shared machine" in text  # load 3.0 on 2 cores
    assert "| fleet wall time (first trigger → last run's end) | 19.0 s |" in text
    # 19 s * 2 slots / 2 nights = 19 slot-s; 1,000 * 19 / 4 = 4750 s
    assert "19.0 slot-s per night; 1,000 × 19.0 / 4 = 4750 s = **1.3 h**" in text
    assert "8.0 slot-s per night; 1,000 × 8.0 / 4 = 2000 s = **0.6 h**" in text
    assert text.index("`validate_export`") < text.index("`extract_export`")  # slowest first
    out = tmp_path / "SCALE.md"
    (tmp_path / "m.json").write_text(json.dumps(data), encoding="utf-8")
    assert fleet_report.main([str(tmp_path / "m.json"), "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == fleet_report.render(data)


def test_quiet_machine_gets_no_warning() -> None:
    data = _measurements()
    data["load_start"] = ["0.20", "0.20", "0.20"]
    assert "loaded, shared machine" not in fleet_report.render(data)


def test_make_fleet_runs_the_harness() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "FLEET_DISTRICTS ?= 24" in makefile and "scripts/fleet.sh" in makefile
    assert "# make fleet:" in makefile.split("\n\n")[0]  # the header lists it with the others
    fleet = (REPO / "scripts" / "fleet.sh").read_text()
    assert "source scripts/topology.sh" in fleet and "fleet_run.py measure" in fleet
