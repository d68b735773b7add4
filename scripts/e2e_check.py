"""The REST half of `make e2e`: trigger one district night through Airflow's public API and check it.

scripts/e2e.sh starts the services; this script then, against the running api-server:
  1. waits for it to answer, logs in as the FAB admin (POST /auth/token; the password from the
     AIRFLOW_ADMIN_PASSWORD environment variable, never from argv) and waits for the dag-processor
     to have parsed the DAG;
  2. unpauses the DAG and triggers the night (POST /api/v2/dags/{dag_id}/dagRuns, logical_date);
  3. waits, bounded, for the run to finish;
  4. checks: the run succeeded; the roster arrived on the SFTP server byte-for-byte equal to what
     `roster run` produces offline; the shared data root holds the night's QA report; and the run's
     task instances (GET .../taskInstances) were executed by at least two different workers;
  5. creates a user with the roster-reviewer role (FAB's POST /auth/fab/v1/users) and checks what
     that role may do: read the DAG, its runs, task instances, logs and Required Actions, get past
     the authorization of answering a hold; but not read connections or variables, nor trigger;
  6. backfills the following nights (POST /api/v2/backfills, max_active_runs 1) and checks they ran
     one after another in date order, each delivered, and the snapshot ends on the last night.
It prints one PASS/FAIL line per check and `e2e_check: N passed, M failed` (scripts/e2e.sh adds the
fault drills' lines and prints the total); exit 0 only when all passed.
Any service that dies while we wait ends the wait at once, naming its log.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
from e2e_reviewer import check_reviewer

FINISHED = {"success", "failed"}


class Stop(Exception):
    """The stack is not usable (a service died, a wait ran out); the message says why."""


class Services:
    """The pids e2e.sh started, to notice a crash instead of waiting for a timeout."""

    def __init__(self, specs: list[str], log_dir: Path) -> None:
        self.pids = {}
        for spec in specs:
            name, _, pid = spec.partition("=")
            self.pids[name] = int(pid)
        self.log_dir = log_dir

    def check(self) -> None:
        for name, pid in self.pids.items():
            try:
                os.kill(pid, 0)
                with open(f"/proc/{pid}/stat") as fh:  # a zombie has exited too
                    if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                        raise ProcessLookupError
            except (ProcessLookupError, FileNotFoundError):
                raise Stop(f"service {name} (pid {pid}) exited; see {self.log_dir / (name + '.log')}") from None


def wait_until(what: str, deadline: float, services: Services, probe, interval: float = 1.0):
    last: Exception | str | None = None
    while time.monotonic() < deadline:
        services.check()
        try:
            result = probe()
            if result:
                return result
        except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
            last = exc
        time.sleep(interval)
    raise Stop(f"timed out waiting for {what}" + (f" (last error: {last})" if last else ""))


class DrillSession:
    """What a drill script (scripts/e2e_faults.py, scripts/e2e_defer.py) holds: the REST client, the
    deadline, the services it watches, and its PASS/FAIL lines, each ``[label] name: detail``."""

    def __init__(self, args: argparse.Namespace, label: str) -> None:
        self.args = args
        self.label = label
        self.results: list[tuple[str, bool, str]] = []
        self.started = time.monotonic()
        self.deadline = self.started + args.timeout
        self.services = Services(args.service, args.log_dir)
        self.client = httpx.Client(base_url=args.api, timeout=30)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.results.append((f"[{self.label}] {name}", ok, detail))

    def report(self) -> int:
        for name, ok, detail in self.results:
            print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)
        return 0 if all(ok for _, ok, _ in self.results) else 1

    def log_in(self) -> None:
        _log_in(self.client, self.args, self.deadline, self.services)

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:.1f}s"


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    started = time.monotonic()
    deadline = started + args.timeout
    services = Services(args.service, args.log_dir)
    results: list[tuple[str, bool, str]] = []
    client = httpx.Client(base_url=args.api, timeout=30)

    def check(name: str, ok: bool, detail: str) -> None:
        results.append((name, ok, detail))

    # Filled while we wait, so a wait that runs out still reports the run's last state.
    run: dict[str, Any] = {}
    tis: list[dict[str, Any]] = []
    try:
        _log_in(client, args, deadline, services)
        _trigger_and_wait(client, args, deadline, services, started, run)
    except Stop as exc:
        check("stack up and run finished", False, str(exc))

    if run:
        try:
            tis = _task_instances(client, args)
        except httpx.HTTPError as exc:
            check("task instances readable", False, str(exc))
        check("run state is success", run["state"] == "success", f"state={run['state']}")

    _check_delivery(args, check)
    _check_report(args, check)
    if run:
        check_reviewer(client, args.dag_id, args.run_id, tis, check)
    if args.backfill and run and run["state"] == "success":
        backfill(client, args, deadline, services, check)
    _check_workers(tis, args.min_workers, check)

    print()
    for name, ok, detail in results:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    failed = sum(1 for _, ok, _ in results if not ok)
    print(f"e2e_check: {len(results) - failed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--api", required=True, help="api-server base URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--user", default="admin")
    p.add_argument(
        "--password-env", default="AIRFLOW_ADMIN_PASSWORD", help="the environment variable holding the admin password"
    )
    p.add_argument("--dag-id", required=True)
    p.add_argument("--logical-date", required=True)
    p.add_argument("--run-id", required=True)
    p.add_argument("--timeout", type=float, default=600, help="seconds for the whole wait")
    p.add_argument("--delivered", type=Path, required=True, help="where the roster must land on the SFTP server")
    p.add_argument("--expected", type=Path, required=True, help="the roster `roster run` wrote offline")
    p.add_argument("--expected-report", type=Path, required=True, help="the offline qa_report.json")
    p.add_argument("--run-folder", type=Path, required=True, help="ROSTER_DATA_ROOT/<district>/<date>")
    p.add_argument("--min-workers", type=int, default=2)
    p.add_argument("--service", action="append", default=[], help="name=pid of a started service")
    p.add_argument("--log-dir", type=Path, required=True)
    p.add_argument("--backfill", default="", help="space-separated roster dates to backfill after the night")
    p.add_argument("--sftp-dir", type=Path, help="the district's folder on the SFTP server")
    p.add_argument("--snapshot", type=Path, help="the district's snapshot.json")
    return p.parse_args(argv)


def _log_in(client: httpx.Client, args: argparse.Namespace, deadline: float, services: Services) -> None:
    """Wait for the api-server, then take a token as the FAB admin."""
    wait_until("the api-server", deadline, services, lambda: client.get("/api/v2/monitor/health").status_code == 200)
    print("== api-server is up; logging in as", args.user, flush=True)
    password = os.environ.get(args.password_env, "")
    if not password:
        raise Stop(f"{args.password_env} is not set")
    client.headers["Authorization"] = f"Bearer {_token(client, args.user, password)}"


def _token(client: httpx.Client, username: str, password: str) -> str:
    resp = client.post("/auth/token", json={"username": username, "password": password})
    if resp.status_code not in (200, 201):
        raise Stop(f"POST /auth/token for {username} answered {resp.status_code}: {resp.text[:300]}")
    return str(resp.json()["access_token"])


def _trigger_and_wait(
    client: httpx.Client,
    args: argparse.Namespace,
    deadline: float,
    services: Services,
    started: float,
    run: dict[str, Any],
) -> None:
    """Unpause and trigger the night once the DAG is parsed; wait for it, keeping its state in ``run``."""
    wait_until(
        f"the dag-processor to parse {args.dag_id}",
        deadline,
        services,
        lambda: client.get(f"/api/v2/dags/{args.dag_id}").status_code == 200,
    )
    resp = client.patch(f"/api/v2/dags/{args.dag_id}", json={"is_paused": False})
    resp.raise_for_status()
    resp = client.post(
        f"/api/v2/dags/{args.dag_id}/dagRuns",
        json={"dag_run_id": args.run_id, "logical_date": args.logical_date, "conf": {}},
    )
    if resp.status_code not in (200, 201):
        raise Stop(f"triggering {args.dag_id} answered {resp.status_code}: {resp.text[:300]}")
    print(f"== triggered {args.dag_id} run {args.run_id} (logical date {args.logical_date}); waiting", flush=True)

    seen_states: dict[str, str] = {}

    def finished() -> bool:
        run.update(client.get(f"/api/v2/dags/{args.dag_id}/dagRuns/{args.run_id}").raise_for_status().json())
        for ti in _task_instances(client, args):
            state = f"{ti['state']}@{ti.get('hostname') or '-'}"
            if seen_states.get(ti["task_id"]) != state and ti["state"]:
                seen_states[ti["task_id"]] = state
                print(
                    f"   {time.monotonic() - started:6.1f}s  {ti['task_id']:<22} {ti['state']:<14} {ti.get('hostname') or ''}",
                    flush=True,
                )
        return run["state"] in FINISHED

    wait_until(f"run {args.run_id} to finish", deadline, services, finished, interval=2.0)


def _task_instances(client: httpx.Client, args: argparse.Namespace) -> list[dict[str, Any]]:
    return (
        client.get(f"/api/v2/dags/{args.dag_id}/dagRuns/{args.run_id}/taskInstances")
        .raise_for_status()
        .json()["task_instances"]
    )


def _check_delivery(args: argparse.Namespace, check) -> None:
    """The delivered file, against the offline transform of the same export and date."""
    if not args.expected.is_file():
        check("offline `roster run` wrote the roster", False, f"missing {args.expected}")
    elif not args.delivered.is_file():
        check("roster delivered on the SFTP server", False, f"missing {args.delivered}")
    else:
        same = args.delivered.read_bytes() == args.expected.read_bytes()
        lines = args.delivered.read_bytes().count(b"\n")
        check(
            "roster delivered on the SFTP server, identical to `roster run` offline",
            same,
            f"{args.delivered} ({lines} lines){'' if same else ' DIFFERS from ' + str(args.expected)}",
        )


def _check_report(args: argparse.Namespace, check) -> None:
    report = args.run_folder / "qa_report.json"
    if report.is_file() and args.expected_report.is_file():
        got, want = json.loads(report.read_text()), json.loads(args.expected_report.read_text())
        keys = ("passed", "rows_read", "rows_delivered", "rows_rejected", "rejects_by_reason")
        same = all(got.get(k) == want.get(k) for k in keys)
        check(
            "QA report in the shared data root matches offline",
            same,
            f"{report}: passed={got.get('passed')} delivered={got.get('rows_delivered')} rejected={got.get('rows_rejected')}",
        )
    else:
        check("QA report in the shared data root", False, f"missing {report} or {args.expected_report}")


def _check_workers(tis: list[dict[str, Any]], min_workers: int, check) -> None:
    ran = [ti for ti in tis if ti.get("hostname") and ti.get("state") == "success"]
    hosts = Counter(ti["hostname"] for ti in ran)
    if tis:
        print("== task instances (task, state, worker hostname):")
        for ti in sorted(tis, key=lambda t: (t.get("start_date") or "~", t["task_id"])):
            print(f"   {ti['task_id']:<22} {ti['state'] or '-':<10} {ti.get('hostname') or ''}")
    check(
        f"tasks ran on at least {min_workers} Celery workers",
        len(hosts) >= min_workers,
        ", ".join(f"{h}: {n} task(s)" for h, n in sorted(hosts.items())) or "no task ran",
    )


def backfill(client: httpx.Client, args: argparse.Namespace, deadline: float, services: Services, check) -> None:
    """Backfill the given nights and check they ran in date order, one at a time, each delivered."""
    nights = args.backfill.split()
    body = {
        "dag_id": args.dag_id,
        "from_date": f"{nights[0]}T00:00:00Z",
        "to_date": f"{nights[-1]}T23:59:59Z",
        "max_active_runs": 1,
        "run_backwards": False,
        "reprocess_behavior": "none",
        "dag_run_conf": {},
    }
    try:
        resp = client.post("/api/v2/backfills", json=body)
        if resp.status_code not in (200, 201):
            raise Stop(f"POST /api/v2/backfills answered {resp.status_code}: {resp.text[:300]}")
        backfill_id = resp.json()["id"]
        print(f"== backfill {backfill_id} of {nights[0]}..{nights[-1]} created; waiting", flush=True)
        runs: list[dict[str, Any]] = []

        def done() -> bool:
            nonlocal runs
            listed = client.get(f"/api/v2/dags/{args.dag_id}/dagRuns", params={"run_type": "backfill", "limit": 100})
            runs = [r for r in listed.raise_for_status().json()["dag_runs"] if r["logical_date"][:10] in nights]
            return len(runs) == len(nights) and all(r["state"] in FINISHED for r in runs)

        wait_until(f"backfill {backfill_id} to finish", deadline, services, done, interval=2.0)
    except Stop as exc:
        check("backfill of three nights", False, str(exc))
        return
    by_date = sorted(runs, key=lambda r: r["logical_date"])
    check(
        "backfilled nights all succeeded",
        all(r["state"] == "success" for r in by_date),
        ", ".join(f"{r['logical_date'][:10]}={r['state']}" for r in by_date),
    )
    in_order = all(a["end_date"] <= b["start_date"] for a, b in pairwise(by_date))
    check(
        "backfilled nights ran one at a time, oldest first",
        in_order,
        "; ".join(
            f"{r['logical_date'][:10]}: {r['start_date'][11:19]}-{(r['end_date'] or '')[11:19]}" for r in by_date
        ),
    )
    files = sorted(p.name for p in args.sftp_dir.iterdir()) if args.sftp_dir and args.sftp_dir.is_dir() else []
    wanted = [args.delivered.name.replace(args.logical_date[:10].replace("-", ""), n.replace("-", "")) for n in nights]
    check(
        "each backfilled night delivered", all(w in files for w in wanted), ", ".join(files) or "nothing on the server"
    )
    pointer = json.loads(args.snapshot.read_text())["date"] if args.snapshot and args.snapshot.is_file() else None
    check("the vendor holds the last backfilled night", pointer == nights[-1], f"snapshot date {pointer}")


if __name__ == "__main__":
    sys.exit(main())
