"""The measuring half of `make fleet`: N districts' nights at once on the e2e topology.

    python scripts/fleet_run.py districts --include include --out var/fleet/include --count 24 --date 2026-11-20
        a copy of include/ whose districts are fleet_01..fleet_NN, each the sample district under its
        own id, with its own export of 1,500-2,000 rows (devtools.sample, a seed per district)
    python scripts/fleet_run.py measure --api URL ... --out var/fleet/fleet.json
        unpauses the fleet's DAGs, triggers every night for one roster date through the REST API,
        waits for all of them, checks each roster landed on the SFTP server, and writes what it
        measured (task instances from the metadata DB, time inside each task from its log, CPU time
        of every service's processes before and after) as JSON for scripts/fleet_report.py.

The metadata DB's URL comes from FLEET_DB_URL (not argv: it holds the password), the admin's
password from the variable --password-env names.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from e2e_check import Services, Stop, _token, wait_until

REPO = Path(__file__).resolve().parent.parent
SAMPLE = "sample_isd"
PREFIX = "fleet_"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- the districts


def district_ids(count: int) -> list[str]:
    width = max(2, len(str(count)))
    return [f"{PREFIX}{k:0{width}d}" for k in range(1, count + 1)]


def rows_for(k: int) -> int:
    """1,500 to 2,000 rows, different from one district to the next."""
    return 1500 + (k * 137) % 501


def make_districts(include: Path, out: Path, count: int, day: dt.date) -> list[str]:
    """``out``: include/ with the fleet's district files and exports instead of the samples."""
    sys.path.insert(0, str(REPO))
    from devtools.sample import write_export

    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(include, out)
    for path in (out / "districts").glob("*.yaml"):
        path.unlink()
    template = (include / "districts" / f"{SAMPLE}.yaml").read_text(encoding="utf-8")
    ids = district_ids(count)
    for k, district_id in enumerate(ids, start=1):
        # The sample's id appears in its id, source path, remote dirs and file name; the cross-match
        # tables (crossmatch/sample_isd) are shared, as districts of one state may share them.
        text = template.replace("crossmatch: crossmatch/sample_isd", "crossmatch: crossmatch/@@CROSSMATCH@@")
        text = text.replace(SAMPLE, district_id).replace("@@CROSSMATCH@@", SAMPLE)
        text = text.replace("name: Sample ISD", f"name: Fleet district {k}")
        (out / "districts" / f"{district_id}.yaml").write_text(text, encoding="utf-8")
        write_export(out / "inbound" / district_id / f"roster_{day:%Y%m%d}.csv", rows_for(k), day, seed=1000 + k)
    return ids


# --------------------------------------------------------------------------- CPU time from /proc


def _stat(pid: str) -> tuple[int, int, int] | None:
    """(ppid, session id, clock ticks of the process and its reaped children) of one process."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # fields[0] is field 3 (state): ppid=4, session=6, utime=14, stime=15, cutime=16, cstime=17
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return int(fields[1]), int(fields[3]), ticks


def cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each service: every process in its session or below its pid.

    Children that exited and were reaped count through their parent's cutime/cstime, so a task's
    short-lived processes are in the sum as long as the service's own processes reaped them.
    """
    procs: dict[int, tuple[int, int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(entry)):
            procs[int(entry)] = st
    owner: dict[int, str] = {}
    for name, root in roots.items():
        for pid, (_, sid, _) in procs.items():
            if root in (sid, pid):
                owner[pid] = name
    changed = True
    while changed:  # descendants that left the session (setsid) still belong to the service
        changed = False
        for pid, (ppid, _, _) in procs.items():
            if pid not in owner and ppid in owner:
                owner[pid] = owner[ppid]
                changed = True
    totals = dict.fromkeys(roots, 0.0)
    for pid, name in owner.items():
        totals[name] += procs[pid][2] / CLK_TCK
    return totals


# --------------------------------------------------------------------------- the run


def _db():
    from sqlalchemy import create_engine

    url = os.environ.get("FLEET_DB_URL")
    if not url:
        raise Stop("FLEET_DB_URL is not set")
    return create_engine(url, pool_pre_ping=True)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def run_states(engine, run_id: str) -> dict[str, dict[str, Any]]:
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT dag_id, state, queued_at, start_date, end_date FROM dag_run WHERE run_id = :r"),
            {"r": run_id},
        ).mappings()
        return {
            r["dag_id"]: {
                "state": r["state"],
                "queued_at": _iso(r["queued_at"]),
                "start_date": _iso(r["start_date"]),
                "end_date": _iso(r["end_date"]),
            }
            for r in rows
        }


def task_instances(engine, run_id: str) -> list[dict[str, Any]]:
    from sqlalchemy import text

    query = text(
        "SELECT dag_id, task_id, state, try_number, hostname, scheduled_dttm, queued_dttm, start_date, end_date,"
        " duration FROM task_instance WHERE run_id = :r ORDER BY dag_id, start_date"
    )
    with engine.connect() as conn:
        out = []
        for r in conn.execute(query, {"r": run_id}).mappings():
            row = dict(r)
            for key in ("scheduled_dttm", "queued_dttm", "start_date", "end_date"):
                row[key] = _iso(row[key])
            out.append(row)
        return out


def log_marks(log_file: Path) -> dict[str, str | None]:
    """From the task's JSON log: its first line (the task process is up), the task runner's last
    ``::endgroup::`` before ``execute`` and its ``::group::Post Execute`` right after it."""
    marks: dict[str, str | None] = {"log_first": None, "exec_begin": None, "exec_end": None}
    try:
        lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return marks
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        event, stamp = str(record.get("event", "")), record.get("timestamp")
        if not stamp:
            continue
        if marks["log_first"] is None:
            marks["log_first"] = stamp
        if event == "::endgroup::" and marks["exec_begin"] is None:
            marks["exec_begin"] = stamp
        elif event.startswith("::group::Post Execute") and marks["exec_begin"] and not marks["exec_end"]:
            marks["exec_end"] = stamp
    return marks


def inside_seconds(marks: dict[str, str | None]) -> float | None:
    """Seconds inside ``execute``, or None when the log does not show both ends."""
    begin, end = marks.get("exec_begin"), marks.get("exec_end")
    if not begin or not end:
        return None
    return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(begin)).total_seconds()


_CELERY_LINE = re.compile(
    r"^(?P<ts>\S+Z) .*?(?:"
    r"Task execute_workload\[(?P<received>[0-9a-f-]+)\] received"
    r"|\[(?P<picked>[0-9a-f-]+)\] Executing workload in Celery: .*?log_path='(?P<path>[^']+)'"
    r"|Task execute_workload\[(?P<done>[0-9a-f-]+)\] (?:succeeded|failed|raised))"
)


def worker_marks(log_files: list[Path]) -> dict[str, dict[str, str]]:
    """From the Celery workers' logs, by task log path: when the worker received the message, began
    the workload (its one slot taken) and finished it (the slot free again)."""
    by_celery_id: dict[str, dict[str, str]] = defaultdict(dict)
    for log_file in log_files:
        try:
            lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            if not (m := _CELERY_LINE.match(line)):
                continue
            if m["received"]:
                by_celery_id[m["received"]]["worker_received"] = m["ts"]
            elif m["picked"]:
                by_celery_id[m["picked"]].update(worker_start=m["ts"], path=m["path"], worker=log_file.stem)
            elif m["done"]:
                by_celery_id[m["done"]]["worker_end"] = m["ts"]
    return {marks.pop("path"): marks for marks in by_celery_id.values() if "path" in marks}


def add_log_marks(tis: list[dict[str, Any]], logs: Path, run_id: str, worker_logs: list[Path]) -> None:
    """Each task instance's marks from its own log and from the worker's that ran it."""
    celery = worker_marks(worker_logs)
    for ti in tis:
        attempt = max(ti["try_number"] or 1, 1)
        rel = f"dag_id={ti['dag_id']}/run_id={run_id}/task_id={ti['task_id']}/attempt={attempt}.log"
        ti.update(log_marks(logs / rel))
        ti.update(celery.get(rel, {}))
        ti["inside"] = inside_seconds(ti)


def _login(client: httpx.Client, args, deadline: float, services: Services) -> None:
    wait_until("the api-server", deadline, services, lambda: client.get("/api/v2/monitor/health").status_code == 200)
    password = os.environ.get(args.password_env, "")
    if not password:
        raise Stop(f"{args.password_env} is not set")
    client.headers["Authorization"] = f"Bearer {_token(client, args.user, password)}"


def _parsed(client: httpx.Client, dag_ids: list[str]) -> bool:
    resp = client.get("/api/v2/dags", params={"dag_id_pattern": f"roster_{PREFIX}%", "limit": 1000})
    resp.raise_for_status()
    return {d["dag_id"] for d in resp.json()["dags"]} >= set(dag_ids)


def _upstream(client: httpx.Client, dag_id: str) -> dict[str, list[str]]:
    tasks = client.get(f"/api/v2/dags/{dag_id}/tasks").raise_for_status().json()["tasks"]
    upstream: dict[str, list[str]] = {t["task_id"]: [] for t in tasks}
    for t in tasks:
        for down in t.get("downstream_task_ids", []):
            upstream[down].append(t["task_id"])
    return upstream


def measure(args: argparse.Namespace) -> int:
    started = time.monotonic()
    deadline = started + args.timeout
    services = Services(args.service, args.log_dir)
    roots = {spec.partition("=")[0]: int(spec.partition("=")[2]) for spec in args.service}
    if args.pg_pid_file and args.pg_pid_file.is_file():
        roots["postgres"] = int(args.pg_pid_file.read_text().split()[0])
    ids = district_ids(args.count)
    dag_ids = [f"roster_{i}" for i in ids]
    client = httpx.Client(base_url=args.api, timeout=60)
    engine = _db()

    _login(client, args, deadline, services)
    wait_until(f"the dag-processor to parse {len(dag_ids)} DAGs", deadline, services, lambda: _parsed(client, dag_ids))
    for dag_id in dag_ids:
        client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
    upstream = _upstream(client, dag_ids[0])

    load_start = Path("/proc/loadavg").read_text().split()[:3]
    cpu_before = cpu_seconds(roots)
    first_trigger = dt.datetime.now(dt.UTC)
    for dag_id in dag_ids:
        resp = client.post(
            f"/api/v2/dags/{dag_id}/dagRuns",
            json={"dag_run_id": args.run_id, "logical_date": args.logical_date, "conf": {}},
        )
        if resp.status_code not in (200, 201):
            raise Stop(f"triggering {dag_id} answered {resp.status_code}: {resp.text[:300]}")
    last_trigger = dt.datetime.now(dt.UTC)
    print(f"== triggered {len(dag_ids)} nights in {(last_trigger - first_trigger).total_seconds():.1f} s; waiting")

    seen: dict[str, int] = {}

    def all_finished() -> bool:
        states = run_states(engine, args.run_id)
        counts: dict[str, int] = {}
        for run in states.values():
            counts[run["state"]] = counts.get(run["state"], 0) + 1
        if counts != seen:
            seen.clear()
            seen.update(counts)
            print(
                f"   {time.monotonic() - started:6.0f}s  " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            )
        return len(states) == len(dag_ids) and all(r["state"] in ("success", "failed") for r in states.values())

    wait_until(f"{len(dag_ids)} runs to finish", deadline, services, all_finished, interval=3.0)
    cpu_after = cpu_seconds(roots)
    load_end = Path("/proc/loadavg").read_text().split()[:3]

    tis = task_instances(engine, args.run_id)
    add_log_marks(tis, args.airflow_logs, args.run_id, sorted(args.log_dir.glob("worker*.log")))
    delivered = {
        i: (args.sftp_root / i / f"{i}_roster_{args.logical_date[:10].replace('-', '')}.txt").is_file() for i in ids
    }
    result = {
        "districts": args.count,
        "executor": args.executor,
        "workers": args.workers,
        "run_id": args.run_id,
        "logical_date": args.logical_date,
        "cores": os.cpu_count(),
        "load_start": load_start,
        "load_end": load_end,
        "first_trigger": first_trigger.isoformat(),
        "last_trigger": last_trigger.isoformat(),
        "cpu_before": cpu_before,
        "cpu_after": cpu_after,
        "rows": {i: rows_for(k) for k, i in enumerate(ids, start=1)},
        "runs": run_states(engine, args.run_id),
        "task_instances": tis,
        "upstream": upstream,
        "delivered": delivered,
    }
    args.out.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    ok = all(delivered.values()) and all(r["state"] == "success" for r in result["runs"].values())
    print(f"== {sum(delivered.values())}/{len(ids)} rosters delivered; measurements in {args.out}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("districts")
    d.add_argument("--include", type=Path, required=True)
    d.add_argument("--out", type=Path, required=True)
    d.add_argument("--count", type=int, required=True)
    d.add_argument("--date", type=dt.date.fromisoformat, required=True)
    m = sub.add_parser("measure")
    m.add_argument("--api", required=True)
    m.add_argument("--user", default="admin")
    m.add_argument("--password-env", default="AIRFLOW_ADMIN_PASSWORD")
    m.add_argument("--count", type=int, required=True)
    m.add_argument("--logical-date", required=True)
    m.add_argument("--run-id", required=True)
    m.add_argument("--timeout", type=float, required=True)
    m.add_argument("--executor", default="celery")
    m.add_argument("--workers", type=int, default=2)
    m.add_argument("--sftp-root", type=Path, required=True, help="the SFTP server's upload folder")
    m.add_argument("--airflow-logs", type=Path, required=True, help="$AIRFLOW_HOME/logs")
    m.add_argument("--pg-pid-file", type=Path, help="the cluster's postmaster.pid")
    m.add_argument("--service", action="append", default=[], help="name=pid of a started service")
    m.add_argument("--log-dir", type=Path, required=True)
    m.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    if args.command == "districts":
        ids = make_districts(args.include, args.out, args.count, args.date)
        print(f"== {len(ids)} districts ({ids[0]}..{ids[-1]}) in {args.out}")
        return 0
    try:
        return measure(args)
    except Stop as exc:
        print(f"fleet: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
