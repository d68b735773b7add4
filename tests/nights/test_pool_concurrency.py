"""A vendor's SFTP limit holds across districts: many districts on one 2-slot pool, run by a real
scheduler and LocalExecutor (parallelism above the pool's slots), never open more than 2 SFTP sessions
at once on the vendor's server, as that server's own sshd log counts them.

``dag.test()`` runs a DAG's tasks one after another and never consults pools, so this starts Airflow's
own components: api-server (the Execution API the tasks report to), dag-processor and scheduler, on
SQLite in a private home. ``ROSTER_POOL_PROOF_DISTRICTS`` sets how many districts (default 8 in the suite, four times the
pool's slots; the issue's 24 with ``ROSTER_POOL_PROOF_DISTRICTS=24``, about 5 minutes; each is one night
of the sample export, three of its tasks SFTP sessions).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from conftest import INCLUDE, REPO
from devtools.servers import SSHD, airflow_connection, airflow_smtp_connection, start_sftp, start_smtp
from devtools.sshd_log import sessions

pytestmark = [pytest.mark.e2e, pytest.mark.real_clock("Airflow's own processes run on the real clock")]

SLOTS = 2
PARALLELISM = 6
NIGHT = dt.date(2026, 11, 20)
LOGICAL = "2026-11-20T08:00:00Z"  # 02:00 in America/Chicago: the sample district's night of 2026-11-20
EXPORT = INCLUDE / "inbound" / "sample_isd" / f"roster_{NIGHT:%Y%m%d}.csv"
TIMEOUT = float(os.environ.get("ROSTER_POOL_PROOF_TIMEOUT", "1800"))


def _district_count() -> int:
    return int(os.environ.get("ROSTER_POOL_PROOF_DISTRICTS", "8"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fleet(include: Path, count: int) -> list[str]:
    """``count`` districts generated from the sample, all reading the export over SFTP, all in one pool."""
    shutil.copytree(INCLUDE, include, ignore=shutil.ignore_patterns("inbound"))
    for old in (include / "districts").glob("*.yaml"):
        old.unlink()
    sample = yaml.safe_load((INCLUDE / "districts" / "sample_isd.yaml").read_text(encoding="utf-8"))
    ids = [f"pooled_{i:02d}" for i in range(count)]
    for district_id in ids:
        config = json.loads(json.dumps(sample, default=str))
        config["district_id"] = district_id
        # No scheduled run of its own before the triggered one (max_active_runs is 1).
        config["schedule"] = "0 2 1 1 *"
        config["source"]["path"] = "sftp://rethink_sftp/inbound/roster_{date:%Y%m%d}.csv"
        config["source"]["wait_for"] = "10m"
        config["destination"].update(
            pool="vendor_two", remote_dir=f"/upload/{district_id}", qa_remote_dir=f"/upload/{district_id}/qa"
        )
        (include / "districts" / f"{district_id}.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (include / "pools.yaml").write_text(
        f"pools:\n  vendor_two:\n    slots: {SLOTS}\n    description: a vendor allowing {SLOTS} sessions\n"
    )
    return ids


class _Airflow:
    """api-server, dag-processor and scheduler as subprocesses, each in its own process group."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", *args], env=self.env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
        return done.stdout

    def start(self, name: str, *args: str) -> None:
        with (self.logs / f"{name}.log").open("wb") as log:
            self.procs[name] = subprocess.Popen(
                [str(Path(sys.executable).with_name("airflow")), *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"airflow {name} exited {proc.returncode}:\n{tail}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def vendor_sftp(tmp_path: Path) -> Iterator:
    if not SSHD.exists() or os.geteuid() != 0:
        pytest.skip("the session count comes from OpenSSH's log: needs /usr/sbin/sshd and root")
    server = start_sftp(tmp_path / "sftp", tmp_path / "keys", backend="openssh")
    with server:
        yield server


def _environment(tmp_path: Path, include: Path, sftp, smtp, api_port: int) -> dict[str, str]:
    home = tmp_path / "airflow"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ROSTER_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM=str(PARALLELISM),
        AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=str(PARALLELISM),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
        AIRFLOW__API__PORT=str(api_port),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__API_AUTH__JWT_SECRET="pool-proof-" + os.urandom(16).hex(),
        AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT=str(_free_port()),
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(_free_port()),
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        ROSTER_INCLUDE_DIR=str(include),
        ROSTER_DATA_ROOT=str(tmp_path / "roster-data"),
        ROSTER_RETRY_DELAY_SECONDS="1",
        ROSTER_TRANSFER_RETRIES="1",
        ROSTER_SENSOR_POKE_SECONDS="5",
        AIRFLOW_CONN_RETHINK_SFTP=json.dumps(airflow_connection(sftp)),
        AIRFLOW_CONN_SMTP_DEFAULT=json.dumps(airflow_smtp_connection(smtp)),
        PYTHONPATH=os.pathsep.join([str(REPO / "plugins"), str(REPO)]),
    )
    return env


def _wait(what: str, airflow: _Airflow, probe, deadline: float, interval: float = 2.0):
    last: Exception | None = None
    while time.monotonic() < deadline:
        airflow.check_alive()
        try:
            result = probe()
            if result:
                return result
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            last = exc
        time.sleep(interval)
    pytest.fail(f"timed out waiting for {what} (last error: {last})")


def _trigger_all(client: httpx.Client, airflow: _Airflow, ids: list[str], deadline: float) -> None:
    def parsed() -> bool:
        listed = client.get("/api/v2/dags", params={"tags": "roster", "limit": 1000}).raise_for_status().json()
        return {d["dag_id"] for d in listed["dags"]} >= {f"roster_{i}" for i in ids}

    _wait("the dag-processor to parse every district", airflow, parsed, deadline)
    for district_id in ids:
        dag_id = f"roster_{district_id}"
        _send(client, "PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        _send(client, "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"dag_run_id": "pool_proof", "logical_date": LOGICAL})


def _send(client: httpx.Client, method: str, url: str, body: dict) -> None:
    """One write to the REST API, again after a 500: on SQLite a write can meet the scheduler's lock.

    A 409 after a retry is the earlier attempt having gone through (the run exists).
    """
    for attempt in range(10):
        resp = client.request(method, url, json=body)
        if resp.status_code < 500 and not (resp.status_code == 409 and attempt):
            resp.raise_for_status()
            return
        if resp.status_code == 409:
            return
        time.sleep(1 + attempt)
    resp.raise_for_status()


def _max_overlap(intervals: list[tuple[str, str]]) -> int:
    """The most of these (start, end) ISO intervals running at one instant."""
    edges = sorted(
        [(dt.datetime.fromisoformat(s), 1) for s, _ in intervals]
        + [(dt.datetime.fromisoformat(e), -1) for _, e in intervals]
    )
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_districts_sharing_a_two_slot_pool_never_open_more_than_two_sftp_sessions(tmp_path: Path, vendor_sftp) -> None:
    count = _district_count()
    include = tmp_path / "include"
    ids = _fleet(include, count)
    (vendor_sftp.root / "inbound").mkdir(parents=True, exist_ok=True)
    shutil.copy(EXPORT, vendor_sftp.root / "inbound" / EXPORT.name)
    log_path = vendor_sftp.client_key_path.parent / "sshd.log"
    logs = tmp_path / "logs"
    logs.mkdir()
    api_port = _free_port()
    with start_smtp(tmp_path / "mail") as smtp:
        airflow = _Airflow(_environment(tmp_path, include, vendor_sftp, smtp, api_port), logs)
        airflow.run("airflow", "db", "migrate")
        out = airflow.run("roster.cli", "pools")
        assert "pool vendor_two: created (2 slots)" in out
        assert "ok:" in airflow.run("roster.cli", "check-config")
        offset = log_path.stat().st_size
        deadline = time.monotonic() + TIMEOUT
        try:
            airflow.start("api-server", "api-server")
            airflow.start("dag-processor", "dag-processor")
            airflow.start("scheduler", "scheduler")
            with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=30) as client:
                _wait(
                    "the api-server",
                    airflow,
                    lambda: client.get("/api/v2/monitor/health").status_code == 200,
                    deadline,
                )
                _trigger_all(client, airflow, ids, deadline)

                def states() -> dict[str, str] | None:
                    found = {
                        i: client.get(f"/api/v2/dags/roster_{i}/dagRuns/pool_proof").raise_for_status().json()["state"]
                        for i in ids
                    }
                    return found if all(s in ("success", "failed") for s in found.values()) else None

                final = _wait(f"{count} nights to finish", airflow, states, deadline, interval=10)
                instances = [
                    ti
                    for i in ids
                    for ti in _wait(
                        "the task instances",
                        airflow,
                        lambda i=i: (
                            client.get(f"/api/v2/dags/roster_{i}/dagRuns/pool_proof/taskInstances")
                            .raise_for_status()
                            .json()["task_instances"]
                        ),
                        deadline,
                    )
                ]
        finally:
            airflow.stop()
    assert set(final.values()) == {"success"}, final
    with log_path.open(errors="replace") as fh:
        fh.seek(offset)
        seen = sessions(fh.read())
    # Each night: at least one poke of the sensor, the download, the upload.
    assert seen.opened >= 3 * count, seen
    assert seen.max_open <= SLOTS, seen
    ran = [(ti["start_date"], ti["end_date"]) for ti in instances if ti["start_date"] and ti["end_date"]]
    pooled = [(ti["start_date"], ti["end_date"]) for ti in instances if ti["pool"] == "vendor_two" and ti["end_date"]]
    # The executor did run more than the pool's slots at once: the cap came from the pool.
    assert _max_overlap(ran) > SLOTS
    assert _max_overlap(pooled) <= SLOTS
    for district_id in ids:
        delivered = vendor_sftp.root / "upload" / district_id / f"sample_isd_roster_{NIGHT:%Y%m%d}.txt"
        assert delivered.is_file(), delivered
    print(f"\npool proof: {count} districts, {seen.opened} SFTP sessions, at most {seen.max_open} open at once")
