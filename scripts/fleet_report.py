"""docs/SCALE.md from what scripts/fleet_run.py measured (var/fleet/fleet.json): `make fleet`'s report.

    python scripts/fleet_report.py var/fleet/fleet.json [--out docs/SCALE.md] [--load-before "4.1 3.9 2.2"]

Prints the report and, with --out, writes it. Only the standard library: the numbers are medians,
95th percentiles (nearest rank) and sums over the fleet's task instances and service processes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

PROJECT_DISTRICTS = 1000
PROJECT_WORKERS = 4


def ts(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def secs(a: dt.datetime | None, b: dt.datetime | None) -> float | None:
    return (b - a).total_seconds() if a and b else None


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def worker_services(data: dict[str, Any]) -> list[str]:
    """Where the tasks run: the Celery workers, or the scheduler (LocalExecutor's processes)."""
    names = [n for n in data["cpu_after"] if n.startswith("worker")]
    return names or ["scheduler"]


PHASES = (
    ("queued_dttm", "worker_received", "queued → a worker takes the message (Redis; waiting for a free worker)"),
    ("worker_received", "worker_start", "taken → the worker starts the workload"),
    ("worker_start", "start_date", "slot taken → start_date (the supervisor starts the task process)"),
    ("start_date", "exec_begin", "start_date → `execute` (imports, DAG file parsed in the task process)"),
    ("exec_begin", "exec_end", "inside `execute` (the task's own work)"),
    ("exec_end", "end_date", "after `execute` → end_date (XCom push, state to the api-server)"),
    ("end_date", "worker_end", "end_date → the slot is free (task process exits, supervisor finishes)"),
)


def _per_task(tis: list[dict[str, Any]]) -> tuple[dict, dict]:
    """By task_id: durations, time inside ``execute``, overhead, queued→start; and the phases of all."""
    kinds: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    phases: dict[str, list[float]] = defaultdict(list)
    for t in tis:
        start, end = ts(t["start_date"]), ts(t["end_date"])
        duration = secs(start, end) or 0.0
        k = kinds[t["task_id"]]
        k["duration"].append(duration)
        if t.get("inside") is not None:
            k["inside"].append(t["inside"])
            k["overhead"].append(duration - t["inside"])
        if (lat := secs(ts(t["queued_dttm"]), start)) is not None:
            k["queued_to_start"].append(lat)
        if (slot := secs(ts(t.get("worker_start")), ts(t.get("worker_end")))) is not None:
            k["slot"].append(slot)
        for a, b, label in PHASES:
            if (value := secs(ts(t.get(a)), ts(t.get(b)))) is not None:
                phases[label].append(value)
    return kinds, phases


def _gaps(data: dict[str, Any], tis: list[dict[str, Any]]) -> dict[str, list[float]]:
    """From the end of a task's last upstream task to its start, in the same run, step by step."""
    by_run: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for t in data["task_instances"]:
        by_run[t["dag_id"]][t["task_id"]] = t
    gaps: dict[str, list[float]] = defaultdict(list)
    for t in tis:
        ups = [by_run[t["dag_id"]].get(u) for u in data["upstream"].get(t["task_id"], [])]
        up_ends = [e for u in ups if u and (e := ts(u.get("end_date")))]
        if not up_ends:
            continue
        ready, start = max(up_ends), ts(t["start_date"])
        gaps["end_to_start"].append(secs(ready, start) or 0.0)
        scheduled, queued = ts(t["scheduled_dttm"]), ts(t["queued_dttm"])
        if scheduled and queued:
            gaps["end_to_scheduled"].append(secs(ready, scheduled) or 0.0)
            gaps["scheduled_to_queued"].append(secs(scheduled, queued) or 0.0)
            gaps["queued_to_start"].append(secs(queued, start) or 0.0)
    return gaps


def analyse(data: dict[str, Any]) -> dict[str, Any]:
    """Every number the report shows, from the raw measurements."""
    runs, n = data["runs"], data["districts"]
    ends = [e for r in runs.values() if (e := ts(r["end_date"]))]
    wall = secs(ts(data["first_trigger"]), max(ends)) if ends else None
    cpu = {name: data["cpu_after"][name] - data["cpu_before"].get(name, 0.0) for name in data["cpu_after"]}
    work = worker_services(data)
    worker_cpu = sum(cpu[name] for name in work)
    tis = [t for t in data["task_instances"] if t["state"] == "success" and t["start_date"] and t["end_date"]]
    kinds, phases = _per_task(tis)
    run_secs = [r for r in (secs(ts(v["start_date"]), ts(v["end_date"])) for v in runs.values()) if r is not None]
    return {
        "wall": wall,
        "n": n,
        "cpu": cpu,
        "work": work,
        "worker_cpu": worker_cpu,
        "worker_cpu_per_night": worker_cpu / n,
        "all_cpu_per_night": sum(cpu.values()) / n,
        "kinds": kinds,
        "phases": phases,
        "gaps": _gaps(data, tis),
        "tasks": len(tis),
        "ti_seconds_per_night": sum(sum(k["duration"]) for k in kinds.values()) / n,
        "slot_seconds_per_night": sum(sum(k["slot"]) for k in kinds.values()) / n,
        "inside_per_night": sum(sum(k["inside"]) for k in kinds.values()) / n,
        "run_median": med(run_secs),
        "run_max": max(run_secs, default=None),
        "slots": max(data["workers"], 1) if data["executor"] == "celery" else 8,
        "succeeded": sum(1 for r in runs.values() if r["state"] == "success"),
        "delivered": sum(1 for v in data["delivered"].values() if v),
    }


def _kind_table(kinds: dict[str, dict[str, list[float]]]) -> list[str]:
    lines = [
        (
            "| task | n | duration median | duration p95 | inside `execute` median | overhead median |"
            " queued→start median | worker slot median |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for task_id, k in sorted(kinds.items(), key=lambda kv: -med(kv[1]["duration"])):
        lines.append(
            f"| `{task_id}` | {len(k['duration'])} | {fmt(med(k['duration']))} | {fmt(p95(k['duration']))} | "
            f"{fmt(med(k['inside']))} | {fmt(med(k['overhead']))} | {fmt(med(k['queued_to_start']))} |"
            f" {fmt(med(k['slot']))} |"
        )
    return lines


def _slot_tail_note(a: dict[str, Any]) -> list[str]:
    """A tail of up to 5 s after end_date is the task supervisor's wait, not the task's work."""
    tail = a["phases"].get(PHASES[-1][2], [])
    if not tail or p95(tail) < 4.0:
        return []
    return [
        "",
        (
            f"Some task instances hold their worker up to {fmt(max(tail), 1)} s after their end_date"
            f" ({fmt(sum(tail) / a['n'], 1)} s per night of {fmt(a['slot_seconds_per_night'], 1)} slot-s). Likely"
            " cause, not measured further: the task supervisor waits in `select` up to"
            " `[workers] min_heartbeat_interval` (5 s) before it notices the task process has exited."
        ),
    ]


def _estimate(label: str, per_night: float | None, unit: str) -> str:
    total = PROJECT_DISTRICTS * (per_night if per_night else float("nan")) / PROJECT_WORKERS
    return (
        f"- **{label}**: {fmt(per_night, 1)} {unit} per night; {PROJECT_DISTRICTS:,} × {fmt(per_night, 1)}"
        f" / {PROJECT_WORKERS} = {fmt(total, 0)} s = **{fmt(total / 3600, 1)} h**"
    )


def _projection(a: dict[str, Any]) -> list[str]:
    wall = a["wall"] or float("nan")
    per_slot = wall * a["slots"] / a["n"]
    return [
        f"## Projection: {PROJECT_DISTRICTS:,} districts on {PROJECT_WORKERS} such workers",
        "",
        (
            f"A worker is one Celery worker of concurrency 1 (the compose file's), so {PROJECT_WORKERS} workers run"
            f" {PROJECT_WORKERS} tasks at a time, and {PROJECT_DISTRICTS:,} nights take {PROJECT_DISTRICTS:,} × (worker"
            f" time per night) / {PROJECT_WORKERS}. Four ways to count a night's worker time, the most pessimistic first:"
        ),
        "",
        _estimate(
            f"From the fleet's wall time ({fmt(wall, 1)} s × {a['slots']} slots / {a['n']} nights: every overhead and"
            " every idle moment of a slot included)",
            per_slot,
            "slot-s",
        ),
        _estimate(
            "From the workers' slots (each task instance from the worker starting it to its slot being free)",
            a["slot_seconds_per_night"] or None,
            "slot-s",
        ),
        _estimate("From the task instances' start→end", a["ti_seconds_per_night"], "s"),
        _estimate(
            "From the workers' CPU time (as if a worker never waited on anything but its own core)",
            a["worker_cpu_per_night"],
            "CPU-s",
        ),
        "",
        (
            "The first two are what four such workers would take as the DAG is cut today; the gap between the"
            " second and the last is the per-task overhead (process start, DAG parse, Execution API calls)"
            " a coarser task cut would save. The scheduler, the api-server (the tasks' Execution API) and"
            " PostgreSQL also grow with the number of concurrent nights; a fleet this small does not show"
            " where they saturate."
        ),
    ]


def render(data: dict[str, Any], load_before: str = "", note: str = "") -> str:
    a = analyse(data)
    load_start = " ".join(data["load_start"])
    loaded = float(data["load_start"][0]) > 0.5 * (data["cores"] or 1)
    executor = (
        f"CeleryExecutor, {data['workers']} workers of concurrency 1"
        if data["executor"] == "celery"
        else "LocalExecutor, parallelism 8"
    )
    lines = ["# Scale: many districts' nights at once", ""]
    if loaded:
        lines += [
            (
                f"> **Measured on a loaded, shared machine** (load average {load_start} on {data['cores']} cores"
                " when the nights were triggered): other work competed for the cores, so the times are"
                " upper bounds and noisy. Re-run `make fleet` on a quiet machine for numbers to compare."
            ),
            "",
        ]
    lines += [
        (
            f"`make fleet` (FLEET_DISTRICTS={a['n']}): {a['n']} districts (the sample district under ids"
            " fleet_01.., each with its own export of 1,500–2,000 rows) on the topology `make e2e` starts"
            f" natively, {executor}; every night triggered through the REST API for one roster date"
            f" ({data['logical_date'][:10]})."
        ),
        "",
        f"- machine: {data['cores']} cores, {platform.machine()}, load average {load_start} at the first trigger"
        + (f" ({load_before} before the stack started)" if load_before else "")
        + f", {' '.join(data['load_end'])} at the last run's end",
        (
            f"- runs: {a['succeeded']}/{a['n']} succeeded, {a['delivered']}/{a['n']} rosters on the SFTP server;"
            f" {a['tasks']} task instances ran"
        ),
    ]
    if note:
        lines.append(f"- note: {note}")
    lines += [
        "",
        "## Fleet",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| fleet wall time (first trigger → last run's end) | {fmt(a['wall'], 1)} s |",
        f"| one night's run (start → end), median / longest | {fmt(a['run_median'], 1)} s / {fmt(a['run_max'], 1)} s |",
        f"| worker CPU per night ({' + '.join(a['work'])}, with their children) | {fmt(a['worker_cpu_per_night'])} CPU-s |",
        f"| every service's CPU per night | {fmt(a['all_cpu_per_night'])} CPU-s |",
        f"| task instances' time per night (sum of start → end) | {fmt(a['ti_seconds_per_night'], 1)} s |",
        f"| worker slot time per night (sum of workload start → slot free) | {fmt(a['slot_seconds_per_night'], 1)} s |",
        f"| CPU-s per task instance on the workers | {fmt(a['worker_cpu'] / max(a['tasks'], 1))} |",
        f"| worker slot time / time inside `execute` | {fmt(a['slot_seconds_per_night'] / a['inside_per_night'], 1)} |"
        if a["inside_per_night"] and a["slot_seconds_per_night"]
        else "| worker slot time / time inside `execute` | - |",
        "",
        (
            "CPU time per service over the fleet (from `/proc/<pid>/stat` of each service's processes and"
            " the children they reaped, before the first trigger and after the last run ended):"
        ),
        "",
        "| service | CPU-s | per night |",
        "|---|---:|---:|",
    ]
    for name, value in sorted(a["cpu"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {fmt(value, 1)} | {fmt(value / a['n'])} |")
    g = a["gaps"]
    lines += [
        "",
        "## Per task",
        "",
        (
            "Seconds, over the task instances that succeeded, slowest first. *duration* is the metadata DB's"
            " start→end; *inside `execute`* is the time between the task runner's last line before `execute`"
            " and its first after (the task's log); *overhead* is the difference (imports and the DAG file"
            " parsed in the task process, Execution API calls, XCom). *queued→start* is mostly waiting for a"
            " free worker. *worker slot* is how long the task held its worker (the worker's log: workload"
            " started → finished)."
        ),
        "",
        *_kind_table(a["kinds"]),
        "",
        "Where a task instance's time goes, over all of them, in the order it happens:",
        "",
        "| phase | median | p95 | sum per night |",
        "|---|---:|---:|---:|",
        *[
            f"| {label} | {fmt(med(v))} | {fmt(p95(v))} | {fmt(sum(v) / a['n'], 1)} |"
            for _, _, label in PHASES
            if (v := a["phases"].get(label))
        ],
        *_slot_tail_note(a),
        "",
        "## Scheduler round trip between tasks",
        "",
        "From the end of a task's last upstream task to its own start, in the same run:",
        "",
        "| step | median | p95 |",
        "|---|---:|---:|",
    ]
    for key, label in (
        ("end_to_start", "upstream end → task start (whole gap)"),
        ("end_to_scheduled", "upstream end → scheduled"),
        ("scheduled_to_queued", "scheduled → queued"),
        ("queued_to_start", "queued → start"),
    ):
        if g.get(key):
            lines.append(f"| {label} | {fmt(med(g[key]))} | {fmt(p95(g[key]))} |")
    lines += ["", *_projection(a), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path)
    p.add_argument("--out", type=Path)
    p.add_argument("--load-before", default="")
    p.add_argument("--note", default="")
    args = p.parse_args(argv)
    text = render(json.loads(args.data.read_text(encoding="utf-8")), args.load_before, args.note)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"== wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
