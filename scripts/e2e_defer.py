"""The deferral drill of `make e2e`: a night waiting for a late export holds no worker slot.

scripts/e2e.sh lays the include root without the late night's export and two more districts (copies
of the sample district) with theirs, then runs this script against the two-worker topology:

  1. triggers the late night; its `wait_for_export` looks once on a worker, finds nothing and must
     reach `deferred`, its trigger (roster.airflow.triggers.ExportTrigger) held by the triggerer
     (the task instance's trigger, its triggerer job, and the trigger's line in the triggerer's log);
  2. triggers the other districts' nights for the same date: both must run to `success` while the
     late night's sensor stays `deferred` at every look, with tasks on both workers (both slots free
     for them: none held by the waiting night);
  3. writes the late export into the inbound folder: the trigger fires within its poll interval
     (ROSTER_SENSOR_POKE_SECONDS), the sensor resumes on a worker (same try, not a retry) and the
     night ends `success`, its roster on the SFTP server byte-identical to `roster run` offline,
     and its trigger gone (the task instance names none, the triggerer logged it completed).

It prints one PASS/FAIL line per check (scripts/e2e.sh counts them into `e2e: N passed, M failed`) and
exits 0 only when all passed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from e2e_check import DrillSession, Stop, wait_until

FINISHED = {"success", "failed"}
SENSOR = "wait_for_export"
NL = b"\n"


class Defer(DrillSession):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args, "defer")
        stamp = time.strftime("%Y%m%dT%H%M%S")
        self.runs = dict.fromkeys([args.dag_id, *args.other_dag], f"e2e_defer_{stamp}")

    def trigger(self, dag_id: str) -> None:
        wait_until(
            f"the dag-processor to parse {dag_id}",
            self.deadline,
            self.services,
            lambda: self.client.get(f"/api/v2/dags/{dag_id}").status_code == 200,
        )
        self.client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
        resp = self.client.post(
            f"/api/v2/dags/{dag_id}/dagRuns",
            json={"dag_run_id": self.runs[dag_id], "logical_date": f"{self.args.night}T08:00:00Z", "conf": {}},
        )
        if resp.status_code not in (200, 201):
            raise Stop(f"triggering {dag_id} answered {resp.status_code}: {resp.text[:300]}")
        print(
            f"== [defer] {self.elapsed()} triggered {dag_id} {self.runs[dag_id]} (night {self.args.night})", flush=True
        )

    def run(self, dag_id: str) -> dict[str, Any]:
        resp = self.client.get(f"/api/v2/dags/{dag_id}/dagRuns/{self.runs[dag_id]}")
        return dict(resp.raise_for_status().json())

    def task_instances(self, dag_id: str) -> list[dict[str, Any]]:
        resp = self.client.get(f"/api/v2/dags/{dag_id}/dagRuns/{self.runs[dag_id]}/taskInstances")
        return list(resp.raise_for_status().json()["task_instances"])

    def sensor(self) -> dict[str, Any]:
        dag_id = self.args.dag_id
        resp = self.client.get(f"/api/v2/dags/{dag_id}/dagRuns/{self.runs[dag_id]}/taskInstances/{SENSOR}")
        return dict(resp.raise_for_status().json())


def _when(stamp: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


def _both_busy(tis: list[dict[str, Any]]) -> tuple[float, str]:
    """Seconds during which two different workers each ran a task of ``tis`` at once, and an example."""
    spans = [
        (ti["hostname"], _when(ti["start_date"]), _when(ti["end_date"]), f"{ti['dag_id']}.{ti['task_id']}")
        for ti in tis
        if ti.get("hostname") and ti.get("start_date") and ti.get("end_date")
    ]
    total, example = 0.0, ""
    for i, (host_a, start_a, end_a, name_a) in enumerate(spans):
        for host_b, start_b, end_b, name_b in spans[i + 1 :]:
            if host_a == host_b:
                continue
            assert start_a and end_a and start_b and end_b
            overlap = (min(end_a, end_b) - max(start_a, start_b)).total_seconds()
            if overlap > 0:
                total += overlap
                if not example:
                    example = f"{name_a} on {host_a} with {name_b} on {host_b}"
    return total, example


def _trigger_log(d: Defer, triggerer_id: Any) -> tuple[Path, list[str]]:
    """The log the triggerer writes for the sensor's trigger (beside the task's own log, named after
    the triggerer job), and its events."""
    folder = d.args.airflow_logs / f"dag_id={d.args.dag_id}" / f"run_id={d.runs[d.args.dag_id]}" / f"task_id={SENSOR}"
    log = folder / f"attempt=1.log.trigger.{triggerer_id}.log"
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return log, []
    events = []
    for line in lines:
        try:
            events.append(str(json.loads(line).get("event", "")))
        except ValueError:
            events.append(line)
    return log, events


def defers(d: Defer) -> tuple[int, Any]:
    """1. The late night defers: its trigger's id and its triggerer job's."""
    args = d.args
    late = args.dag_id
    if args.export_dest.exists():
        raise Stop(f"the late export is already there: {args.export_dest}")
    d.trigger(late)
    seen: dict[str, Any] = {}

    def deferred() -> bool:
        ti = d.sensor()
        seen["ti"] = ti
        if ti.get("state") in FINISHED or ti.get("state") == "up_for_retry":
            raise Stop(f"{SENSOR} ended {ti.get('state')} instead of deferring")
        return ti.get("state") == "deferred" and bool(ti.get("trigger"))

    wait_until(f"{SENSOR} of {late} to defer", d.deadline, d.services, deferred, interval=0.5)
    ti = seen["ti"]
    trigger = ti["trigger"]
    trigger_id = int(trigger["id"])
    d.check(
        f"the late night's {SENSOR} deferred to the triggerer",
        ti["state"] == "deferred" and trigger["classpath"].endswith("ExportTrigger"),
        f"at {d.elapsed()}, try {ti['try_number']}; trigger {trigger_id} ({trigger['classpath']}); "
        f"no export at {args.export_dest}",
    )

    def picked_up() -> bool:
        ti = d.sensor()
        seen["ti"] = ti
        triggerer_id = (ti.get("trigger") or {}).get("triggerer_id")
        return bool(triggerer_id) and any(f"(ID {trigger_id}) starting" in e for e in _trigger_log(d, triggerer_id)[1])

    try:
        wait_until("the triggerer to run the trigger", min(d.deadline, time.monotonic() + 60), d.services, picked_up)
    except Stop as exc:
        seen["picked"] = str(exc)
    ti = seen["ti"]
    triggerer_id = (ti.get("trigger") or {}).get("triggerer_id")
    log, events = _trigger_log(d, triggerer_id)
    looks = [e for e in events if e.startswith("export not there yet")]
    d.check(
        "its trigger runs in the triggerer",
        bool(triggerer_id) and any(f"(ID {trigger_id}) starting" in e for e in events),
        f"trigger {trigger_id} held by triggerer job {triggerer_id}; the triggerer's log of it ({log.name}): "
        + (f"{events[0]!r}, then {len(looks)} look(s) so far" if events else "MISSING")
        + (f"; {seen['picked']}" if "picked" in seen else ""),
    )
    return trigger_id, triggerer_id


def others_run(d: Defer) -> None:
    """2. The other nights run on both workers while the late one waits."""
    args = d.args
    late = args.dag_id
    t_others = time.monotonic()
    for dag_id in args.other_dag:
        d.trigger(dag_id)
    sensor_states: list[str] = []
    states: dict[str, str] = {}

    def others_done() -> bool:
        sensor_states.append(str(d.sensor().get("state")))
        for dag_id in args.other_dag:
            states[dag_id] = str(d.run(dag_id)["state"])
        return all(s in FINISHED for s in states.values())

    try:
        wait_until("the other nights to finish", d.deadline, d.services, others_done, interval=1.0)
    except Stop as exc:
        d.check("the other nights finished", False, str(exc))
    others_wall = time.monotonic() - t_others
    sensor_states.append(str(d.sensor().get("state")))
    other_tis = [ti for dag_id in args.other_dag for ti in d.task_instances(dag_id)]
    hosts = sorted({ti["hostname"] for ti in other_tis if ti.get("hostname")})
    d.check(
        "the other nights succeeded while the late night stayed deferred",
        all(s == "success" for s in states.values())
        and len(states) == len(args.other_dag)
        and set(sensor_states) == {"deferred"},
        ", ".join(f"{k}={v}" for k, v in states.items())
        + f" in {others_wall:.1f}s; {SENSOR} of {late}: {' '.join(sorted(set(sensor_states)))} at all "
        f"{len(sensor_states)} looks",
    )
    overlap, example = _both_busy(other_tis)
    # Both workers ran the other nights' tasks, all before the late export was written: had the waiting
    # night held a slot, one worker would have been taken the whole time. (How long both ran at once
    # is shown, not required: two nights of short tasks may happen to alternate.)
    d.check(
        "both worker slots ran the other nights while the late night waited (it held none)",
        len(hosts) >= 2,
        f"{len(other_tis)} tasks on {', '.join(hosts) or 'no worker'}; {overlap:.1f}s with both workers busy"
        + (f", e.g. {example}" if example else ""),
    )


def resumes(d: Defer, trigger_id: int, triggerer_id: Any) -> None:
    """3. The export arrives: the trigger fires, the night resumes and is delivered."""
    args = d.args
    late = args.dag_id
    args.export_dest.parent.mkdir(parents=True, exist_ok=True)
    part = args.export_dest.with_name(f".{args.export_dest.name}.part")
    shutil.copyfile(args.export_src, part)
    part.replace(args.export_dest)
    t_export = time.monotonic()
    print(f"== [defer] {d.elapsed()} wrote the late export {args.export_dest}", flush=True)
    run: dict[str, Any] = {}

    def late_done() -> bool:
        run.update(d.run(late))
        return run["state"] in FINISHED

    try:
        wait_until(f"{late} to finish", d.deadline, d.services, late_done, interval=1.0)
    except Stop as exc:
        d.check("the late night finished", False, str(exc))
    ti = d.sensor()
    resumed = _when(ti.get("end_date"))
    d.check(
        "the export arrived: the sensor resumed on a worker and the late night succeeded",
        run.get("state") == "success" and ti.get("state") == "success" and int(ti.get("try_number") or 0) == 1,
        f"run {run.get('state')} {time.monotonic() - t_export:.1f}s after the export landed; {SENSOR} "
        f"{ti.get('state')} on try {ti.get('try_number')} on {ti.get('hostname')}"
        + (f", ended {resumed:%H:%M:%S}" if resumed else ""),
    )
    delivered = args.sftp_dir / args.roster_file
    expected = args.expected.read_bytes() if args.expected.is_file() else None
    got = delivered.read_bytes() if delivered.is_file() else None
    d.check(
        "the late roster delivered, byte-identical to `roster run` offline",
        got is not None and got == expected,
        f"{delivered} ({'missing' if got is None else str(got.count(NL)) + ' lines'})"
        + ("" if got == expected else f" DIFFERS from {args.expected}"),
    )
    _, events = _trigger_log(d, triggerer_id)
    looks = [e for e in events if e.startswith("export not there yet")]
    d.check(
        "the trigger is gone",
        not ti.get("trigger") and "trigger completed" in events,
        f"the task instance's trigger: {ti.get('trigger') or 'none'}; the triggerer's log of trigger {trigger_id}: "
        f"{len(looks)} look(s), then {', '.join(repr(e) for e in events[-2:] if not e.startswith('export not'))}",
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--api", required=True)
    p.add_argument("--user", default="admin")
    p.add_argument("--password-env", default="AIRFLOW_ADMIN_PASSWORD")
    p.add_argument("--dag-id", required=True, help="the DAG of the night whose export is late")
    p.add_argument("--other-dag", action="append", default=[], help="a DAG whose night's export is there")
    p.add_argument("--night", required=True, help="the roster date of every night, YYYY-MM-DD")
    p.add_argument("--export-src", type=Path, required=True, help="the late export, written when the others are done")
    p.add_argument("--export-dest", type=Path, required=True, help="where the late export is expected")
    p.add_argument("--sftp-dir", type=Path, required=True, help="the late district's folder on the SFTP server")
    p.add_argument("--roster-file", required=True, help="the late night's roster file name")
    p.add_argument("--expected", type=Path, required=True, help="the roster `roster run` wrote offline")
    p.add_argument("--timeout", type=float, default=240)
    p.add_argument("--service", action="append", default=[], help="name=pid of a started service")
    p.add_argument("--log-dir", type=Path, required=True)
    p.add_argument("--airflow-logs", type=Path, required=True, help="[logging] base_log_folder")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    d = Defer(args)
    try:
        d.log_in()
        trigger_id, triggerer_id = defers(d)
        others_run(d)
        resumes(d, trigger_id, triggerer_id)
    except (Stop, httpx.HTTPError) as exc:
        d.check("drill", False, str(exc))
    return d.report()


if __name__ == "__main__":
    sys.exit(main())
