"""The fault drills of `make e2e`: a Celery worker and the scheduler killed in the middle of a night.

scripts/e2e.sh owns every process; this script triggers, kills and checks, one phase per call, so the
restart between the kill and the check is the shell's (the same way it started the service):

  proxy           a loopback TCP proxy in front of the SFTP server, the address the topology's SFTP
                  connection names. It passes bytes through untouched, except while its throttle file
                  exists: then the client-to-server bytes flow at the rate the file holds (bytes/s).
                  That is how drill A lands "in the middle of the upload" every time (a 26 kB
                  roster otherwise crosses loopback in milliseconds).
  kill-upload     drill A: throttle the SFTP link, trigger a night, wait until upload_roster is
                  running on a worker AND the server holds its hidden temporary file (not the final
                  name), then SIGKILL that worker's whole session (the worker, its Celery pool, the task
                  supervisor and the task process: what a killed container loses) and lift the throttle.
  kill-scheduler  drill B: trigger a night, wait until its export is extracted and build_roster is
                  queued or running on a worker (the night half done), then SIGKILL the scheduler's
                  session: the task finishes, and is reported, while no scheduler runs.
  wait-upload     drill C: as kill-upload, but return with the upload in flight and the link still
                  throttled: the shell restarts PostgreSQL, cutting every connection to the metadata
                  database (scheduler, api-server, workers' result backend), then lifts the throttle.
  check           after the shell restarted what was killed: wait for the night to end, then check it
                  was delivered exactly once: the run succeeded; one final roster file for the night on
                  the server, byte-identical to `roster run` offline; no temporary or partial file left in
                  the folder; one asset event for the run (GET /api/v2/assets/events), carrying the
                  file's sha256; one email about the night (the summary: no duplicate, no on-call alarm);
                  the snapshot pointer names the night and the delivered file's sha256.

Each phase prints PASS/FAIL lines (scripts/e2e.sh counts them into `e2e: N passed, M failed`) and exits
0 when all its checks passed. The kill phases write the killed service's name to --killed-file.
"""

from __future__ import annotations

import argparse
import asyncio
import email.policy
import hashlib
import json
import os
import re
import signal
import sys
import time
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
from e2e_check import DrillSession, Stop, wait_until

FINISHED = {"success", "failed"}


# --------------------------------------------------------------------------------------- proxy


def _rate(throttle: Path) -> float:
    """Bytes per second while the throttle file exists; 0 (no limit) otherwise."""
    try:
        return float(throttle.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0.0


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, throttle: Path | None) -> None:
    try:
        while data := await reader.read(65536):
            rate = _rate(throttle) if throttle else 0.0
            if rate <= 0:
                writer.write(data)
                await writer.drain()
                continue
            for i in range(0, len(data), 512):
                chunk = data[i : i + 512]
                await asyncio.sleep(len(chunk) / rate)
                writer.write(chunk)
                await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _proxy(target_port: int, port_file: Path, throttle: Path, stop: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or until ``stop`` is set, when given)."""

    links: set[asyncio.Task[None]] = set()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        link = asyncio.current_task()
        assert link is not None
        links.add(link)
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_w.close()
            return
        finally:
            link.add_done_callback(links.discard)
        # Only the client-to-server direction is throttled: an upload's bytes.
        await asyncio.gather(_pump(client_r, server_w, throttle), _pump(server_r, client_w, None))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    tmp = port_file.with_name(port_file.name + ".part")
    tmp.write_text(f"{port}\n")
    tmp.replace(port_file)
    print(f"sftp-proxy: 127.0.0.1:{port} -> 127.0.0.1:{target_port}; throttled while {throttle} exists", flush=True)
    if stop is None:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    for link in list(links):  # the links still open: cut, their sockets closed
        link.cancel()
    await asyncio.gather(*links, return_exceptions=True)


# --------------------------------------------------------------------------------------- kills


def session_pids(sid: int) -> list[int]:
    """Every live process of the session ``sid`` (setsid in scripts/topology.sh: one per service)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def kill_session(sid: int) -> int:
    """SIGKILL a service's whole session, task processes in their own process groups included; how many
    processes were killed. Repeats until none is left (a process may fork while we look)."""
    killed: set[int] = set()
    for _ in range(50):
        pids = session_pids(sid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    return len(killed)


# --------------------------------------------------------------------------------------- the drills


class Drill(DrillSession):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args, args.drill)
        self.dag_id = args.dag_id
        self.night = args.night
        self.run_id = args.run_id

    def trigger(self) -> None:
        resp = self.client.post(
            f"/api/v2/dags/{self.dag_id}/dagRuns",
            json={"dag_run_id": self.run_id, "logical_date": f"{self.night}T08:00:00Z", "conf": {}},
        )
        if resp.status_code not in (200, 201):
            raise Stop(f"triggering {self.dag_id} answered {resp.status_code}: {resp.text[:300]}")
        print(f"== [{self.args.drill}] triggered {self.run_id} (night {self.night})", flush=True)

    def task_instances(self) -> dict[str, dict[str, Any]]:
        resp = self.client.get(f"/api/v2/dags/{self.dag_id}/dagRuns/{self.run_id}/taskInstances")
        return {ti["task_id"]: ti for ti in resp.raise_for_status().json()["task_instances"]}

    def run_state(self) -> str:
        resp = self.client.get(f"/api/v2/dags/{self.dag_id}/dagRuns/{self.run_id}")
        return str(resp.raise_for_status().json()["state"])


def _temporary_files(folder: Path, final_name: str) -> list[Path]:
    pattern = re.compile(re.escape(f".{final_name}.") + r"[0-9a-f]{12}\.part")
    return [p for p in folder.iterdir() if pattern.fullmatch(p.name)] if folder.is_dir() else []


def _wait_uploading(drill: Drill) -> dict[str, Any]:
    """Trigger the night with the SFTP link throttled; return once upload_roster runs on a worker and
    the server holds its temporary file: the task instance, the temporary files, whether the final name
    is there."""
    args = drill.args
    final = args.sftp_dir / args.roster_file
    args.throttle.write_text(f"{args.rate}\n")
    drill.trigger()
    found: dict[str, Any] = {}

    def uploading() -> bool:
        temps = _temporary_files(args.sftp_dir, args.roster_file)
        if not temps:
            return False
        ti = drill.task_instances().get("upload_roster", {})
        if ti.get("state") != "running" or not ti.get("hostname"):
            return False
        found.update(temps=temps, ti=ti, final_there=final.exists())
        return True

    wait_until("upload_roster to be uploading", drill.deadline, drill.services, uploading, interval=0.1)
    found["sizes"] = ", ".join(f"{p.name} {p.stat().st_size if p.exists() else '-'} bytes" for p in found["temps"])
    return found


def kill_upload(drill: Drill) -> None:
    """Drill A: SIGKILL the worker running upload_roster while its temporary file is on the server."""
    args = drill.args
    try:
        found = _wait_uploading(drill)
        host = str(found["ti"]["hostname"])
        service = host.partition("@")[0].partition(".")[0]
        if service not in drill.services.pids:
            raise Stop(f"upload_roster runs on {host!r}, not one of the started workers {sorted(drill.services.pids)}")
        killed = kill_session(drill.services.pids[service])
        still_temp = bool(_temporary_files(args.sftp_dir, args.roster_file))
        drill.check(
            "worker SIGKILLed in the middle of the upload",
            killed > 0 and not found["final_there"] and still_temp,
            f"{service} ({killed} processes: worker, pool, task supervisor, task) killed at {drill.elapsed()} "
            f"while upload_roster (try {found['ti']['try_number']}) ran on it; on the server: {found['sizes']}, "
            f"final name {'PRESENT' if found['final_there'] else 'absent'}",
        )
        args.killed_file.write_text(service + "\n")
    finally:
        args.throttle.unlink(missing_ok=True)


def wait_upload(drill: Drill) -> None:
    """Drill C: return while upload_roster is mid-upload, the link still throttled: the shell then
    restarts PostgreSQL (every connection to the metadata database cut) and lifts the throttle."""
    try:
        found = _wait_uploading(drill)
    except BaseException:
        drill.args.throttle.unlink(missing_ok=True)
        raise
    drill.check(
        "upload_roster in flight when the database goes",
        not found["final_there"],
        f"at {drill.elapsed()} on {found['ti']['hostname']} (try {found['ti']['try_number']}); on the server: "
        f"{found['sizes']}",
    )


def kill_scheduler(drill: Drill) -> None:
    """Drill B: SIGKILL the scheduler once the night is half done: its export extracted, build_roster
    queued or running on a worker (so a task finishes while no scheduler runs)."""
    drill.trigger()
    seen: dict[str, Any] = {}

    def half_done() -> bool:
        tis = drill.task_instances()
        if tis.get("build_roster", {}).get("state") not in ("queued", "running", "success"):
            return False
        seen.update(tis=tis, state=drill.run_state())
        return True

    wait_until("build_roster to be queued", drill.deadline, drill.services, half_done, interval=0.2)
    killed = kill_session(drill.services.pids["scheduler"])
    tis = seen["tis"]
    done = sorted(t for t, ti in tis.items() if ti["state"] == "success")
    flight = sorted(f"{t}={ti['state']}" for t, ti in tis.items() if ti["state"] in ("queued", "running"))
    drill.check(
        "scheduler SIGKILLed in the middle of the night",
        killed > 0 and seen["state"] == "running" and tis.get("upload_roster", {}).get("state") != "success",
        f"{killed} processes killed at {drill.elapsed()}; run {seen['state']}; succeeded: {', '.join(done)}; "
        f"in flight: {', '.join(flight) or 'none'}",
    )
    drill.args.killed_file.write_text("scheduler\n")


def check_night(drill: Drill) -> None:
    """After the restart: the night ends delivered exactly once."""
    args = drill.args
    state: dict[str, Any] = {}

    def finished() -> bool:
        state["run"] = drill.run_state()
        return state["run"] in FINISHED

    try:
        wait_until(f"{drill.run_id} to finish", drill.deadline, drill.services, finished, interval=1.0)
    except Stop as exc:
        drill.check("night finished", False, str(exc))
    tis = drill.task_instances()
    upload = tis.get("upload_roster", {})
    drill.check(
        "night succeeded",
        state.get("run") == "success",
        f"state={state.get('run')} after {drill.elapsed()}; upload_roster {upload.get('state')} on try "
        f"{upload.get('try_number')} on {upload.get('hostname')}",
    )
    if args.drill == "database":
        drill.check(
            "the task survived the lost database connection or was retried, not failed",
            upload.get("state") == "success",
            f"upload_roster try {upload.get('try_number')}: {upload.get('state')}",
        )
    if args.drill == "worker":
        drill.check(
            "the lost upload was retried (heartbeat timeout), not failed",
            upload.get("state") == "success" and int(upload.get("try_number") or 0) >= 2,
            f"upload_roster try {upload.get('try_number')}: {upload.get('state')}",
        )

    final = args.sftp_dir / args.roster_file
    names = sorted(p.name for p in args.sftp_dir.iterdir()) if args.sftp_dir.is_dir() else []
    night_files = [n for n in names if args.night.replace("-", "") in n]
    delivered = final.read_bytes() if final.is_file() else b""
    expected = args.expected.read_bytes() if args.expected.is_file() else None
    drill.check(
        "one final roster file for the night, byte-identical to `roster run` offline",
        night_files == [args.roster_file] and expected is not None and delivered == expected,
        f"{', '.join(night_files) or 'none'} ({len(delivered)} bytes; offline {len(expected or b'')} bytes"
        f"{'' if delivered == expected else ', DIFFERENT'})",
    )
    leftovers = [n for n in names if n.startswith(".") or n.endswith((".part", ".tmp"))]
    drill.check(
        "no temporary or partial file left in the remote folder",
        not leftovers,
        ", ".join(leftovers) or f"{len(names)} files, none hidden or partial",
    )

    sha = hashlib.sha256(delivered).hexdigest()
    resp = drill.client.get(
        "/api/v2/assets/events",
        params={"source_dag_id": drill.dag_id, "source_run_id": drill.run_id, "limit": 100},
    )
    events = resp.json().get("asset_events", []) if resp.status_code == 200 else []
    shas = [(e.get("extra") or {}).get("sha256") for e in events]
    drill.check(
        "one asset event for the delivery, carrying the delivered file's sha256",
        len(events) == 1 and shas == [sha],
        f"{len(events)} event(s) for run {drill.run_id} (HTTP {resp.status_code}); sha256 {', '.join(str(s)[:12] for s in shas) or '-'}",
    )

    parser = BytesParser(policy=email.policy.default)
    subjects = []
    for path in sorted(args.maildir.glob("*.eml")):
        subject = str(parser.parsebytes(path.read_bytes())["subject"] or "")
        if args.night in subject:
            subjects.append(subject)
    drill.check(
        "one email about the night (its summary): no duplicate, no failure alert",
        len(subjects) == 1 and "delivered" in subjects[0],
        "; ".join(subjects) or "none",
    )

    pointer_path = args.snapshot
    pointer = json.loads(pointer_path.read_text()) if pointer_path.is_file() else {}
    table = pointer_path.parent / str(pointer.get("file", ""))
    drill.check(
        "snapshot consistent: names the night and the delivered file's sha256",
        pointer.get("date") == args.night
        and pointer.get("sha256") == sha
        and pointer.get("source_file") == args.roster_file
        and table.is_file(),
        f"date {pointer.get('date')}, source_file {pointer.get('source_file')}, "
        f"sha256 {'matches' if pointer.get('sha256') == sha else 'DIFFERS'}, table {table.name} "
        f"{'present' if table.is_file() else 'MISSING'}",
    )


# --------------------------------------------------------------------------------------- cli


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="phase", required=True)
    proxy = sub.add_parser("proxy")
    proxy.add_argument("--target-port", type=int, required=True)
    proxy.add_argument("--port-file", type=Path, required=True)
    proxy.add_argument("--throttle", type=Path, required=True)
    for name in ("kill-upload", "kill-scheduler", "wait-upload", "check"):
        s = sub.add_parser(name)
        s.add_argument("--drill", required=True, choices=("worker", "scheduler", "database"))
        s.add_argument("--api", required=True)
        s.add_argument("--user", default="admin")
        s.add_argument("--password-env", default="AIRFLOW_ADMIN_PASSWORD")
        s.add_argument("--dag-id", required=True)
        s.add_argument("--night", required=True, help="the roster date, YYYY-MM-DD")
        s.add_argument("--run-id", required=True)
        s.add_argument("--timeout", type=float, default=300)
        s.add_argument("--service", action="append", default=[], help="name=pid of a started service")
        s.add_argument("--log-dir", type=Path, required=True)
        s.add_argument("--sftp-dir", type=Path, required=True, help="the district's folder on the SFTP server")
        s.add_argument("--roster-file", required=True, help="the night's roster file name")
        s.add_argument("--killed-file", type=Path, help="where a kill phase writes the killed service's name")
        s.add_argument("--throttle", type=Path, help="the proxy's throttle file")
        s.add_argument("--rate", type=float, default=6000, help="bytes/s through the proxy while uploading")
        s.add_argument("--expected", type=Path, help="the roster `roster run` wrote offline")
        s.add_argument("--maildir", type=Path, help="the SMTP sink's folder")
        s.add_argument("--snapshot", type=Path, help="the district's snapshot.json")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.phase == "proxy":
        asyncio.run(_proxy(args.target_port, args.port_file, args.throttle))
        return 0
    drill = Drill(args)
    try:
        drill.log_in()
        if args.phase == "kill-upload":
            kill_upload(drill)
        elif args.phase == "kill-scheduler":
            kill_scheduler(drill)
        elif args.phase == "wait-upload":
            wait_upload(drill)
        else:
            check_night(drill)
    except (Stop, httpx.HTTPError) as exc:
        drill.check(f"{args.phase} phase", False, str(exc))
    return drill.report()


if __name__ == "__main__":
    sys.exit(main())
