"""A real Airflow 3.3 on loopback for the browser tests: api-server, scheduler, dag-processor and
triggerer as separate processes, LocalExecutor on SQLite, in a temporary AIRFLOW_HOME reading this
checkout's dags/ and plugins/, with the project's loopback SFTP and SMTP servers
(``python -m devtools.servers``, as ``make up`` starts them).

Airflow's simple auth manager with one known admin (``REVIEWER``) and all-admins off, so a browser
has to log in through the real login page. Every wait polls for the thing awaited (a file, an HTTP
answer, a state) under a generous deadline and stops at once, naming the log, when a process exits.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REVIEWER = "browser.reviewer"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
START_TIMEOUT = 240.0
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")

T = TypeVar("T")


class StackError(RuntimeError):
    """The stack is not usable: a process exited, or a wait ran out. The message names the log."""


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Stack:
    """The running stack: where it is, who may log in, and the folders the nights write to."""

    base_url: str
    password: str
    home: Path
    include: Path
    data_root: Path
    sftp_root: Path
    maildir: Path
    logs: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    username: str = REVIEWER

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise StackError(f"{name} exited with {proc.returncode}; see {self.logs / (name + '.log')}")

    def wait_for(self, what: str, probe: Callable[[], T | None], timeout: float = START_TIMEOUT) -> T:
        """Poll ``probe`` (every 0.5 s) until it returns something truthy; fail naming ``what``."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                result = probe()
            except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
                last, result = exc, None
            if result:
                return result
            time.sleep(0.5)
        raise StackError(f"timed out after {timeout:.0f} s waiting for {what}" + (f" (last: {last!r})" if last else ""))

    def api(self) -> httpx.Client:
        """A REST client (not yet opened) logged in as the reviewer: a token from ``POST /auth/token``."""
        resp = httpx.post(
            f"{self.base_url}/auth/token", json={"username": self.username, "password": self.password}, timeout=30
        )
        resp.raise_for_status()
        headers = {"Authorization": f"Bearer {resp.json()['access_token']}"}
        return httpx.Client(base_url=self.base_url, timeout=30, headers=headers)


def _environment(stack: Stack, ports: dict[str, int], servers_env: dict[str, str]) -> dict[str, str]:
    """The services' environment: the inherited one without any Airflow or roster setting, then ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ROSTER_"))}
    api = ports["api"]
    env.update(servers_env)
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            # This checkout's code, not the editable install's (which may point at another checkout).
            "PYTHONPATH": f"{REPO / 'plugins'}{os.pathsep}{REPO}",
            "AIRFLOW_HOME": str(stack.home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{stack.home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{REVIEWER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(stack.home / "passwords.json"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api}",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            # Only the runs a test triggers: no cron runs of any district.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(ports["health"]),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports["worker_log"]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["trigger_log"]),
            "ROSTER_INCLUDE_DIR": str(stack.include),
            "ROSTER_DATA_ROOT": str(stack.data_root),
            "ROSTER_RETRY_DELAY_SECONDS": "1",
            "ROSTER_TRANSFER_RETRIES": "1",
        }
    )
    return env


def _servers_env(path: Path) -> dict[str, str]:
    """The ``export NAME=value`` lines of devtools.servers' servers.env."""
    env = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            env[name] = value
    return env


def _start(stack: Stack, stop: ExitStack, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start a process in its own group, output to ``logs/<name>.log``; stopped when ``stop`` closes."""
    log = (stack.logs / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    log.close()
    stack.procs[name] = proc
    stop.callback(_stop, proc)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process's group (the LocalExecutor's workers, sshd's children), then SIGKILL."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _healthy(stack: Stack) -> bool:
    """The api-server answers and reports scheduler, dag-processor and triggerer healthy."""
    health = httpx.get(f"{stack.base_url}/api/v2/monitor/health", timeout=5).json()
    return all(
        (health.get(part) or {}).get("status") == "healthy"
        for part in ("metadatabase", "scheduler", "dag_processor", "triggerer")
    )


@contextmanager
def airflow_stack(base: Path, include: Path, *, dag_ids: tuple[str, ...] = ()) -> Iterator[Stack]:
    """Start everything under ``base``, reading the include root ``include``; stop it all on exit.

    Yields once the four services are healthy and each of ``dag_ids`` is parsed.
    """
    ports = dict(zip(("api", "health", "worker_log", "trigger_log"), free_ports(4), strict=True))
    stack = Stack(
        base_url=f"http://127.0.0.1:{ports['api']}",
        password=secrets.token_urlsafe(18),
        home=base / "airflow",
        include=include,
        data_root=base / "roster-data",
        sftp_root=base / "servers" / "sftp",
        maildir=base / "servers" / "mail",
        logs=base / "logs",
    )
    for folder in (stack.home, stack.data_root, stack.logs):
        folder.mkdir(parents=True, exist_ok=True)
    # The simple auth manager keeps its users' passwords in this file; a known one for the login page.
    (stack.home / "passwords.json").write_text(json.dumps({REVIEWER: stack.password}) + "\n")
    python = sys.executable
    airflow = str(Path(python).with_name("airflow"))
    with ExitStack() as stop:
        servers_dir = base / "servers"
        _start(
            stack,
            stop,
            "servers",
            [python, "-m", "devtools.servers", "--dir", str(servers_dir)],
            {**os.environ, "PYTHONPATH": str(REPO)},
        )
        servers_file = servers_dir / "servers.env"
        stack.wait_for("the loopback SFTP and SMTP servers", servers_file.is_file, timeout=60)
        env = _environment(stack, ports, _servers_env(servers_file))
        migrate = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, check=False)
        (stack.logs / "db-migrate.log").write_text(migrate.stdout + migrate.stderr)
        if migrate.returncode:
            raise StackError(f"airflow db migrate failed; see {stack.logs / 'db-migrate.log'}")
        for name in SERVICES:
            _start(stack, stop, name, [airflow, name], env)
        stack.wait_for("scheduler, dag-processor and triggerer to report healthy", lambda: _healthy(stack))
        client = stack.wait_for("the reviewer to get a token", stack.api)
        try:
            for dag_id in dag_ids:
                stack.wait_for(
                    f"the dag-processor to parse {dag_id}",
                    lambda d=dag_id: client.get(f"/api/v2/dags/{d}").status_code == 200,
                )
        finally:
            client.close()
        yield stack


def copy_include(target: Path) -> Path:
    """A private copy of the repository's include/ that a test may add exports to."""
    shutil.copytree(REPO / "include", target)
    return target


def dag_run(client: httpx.Client, dag_id: str, run_id: str) -> dict[str, Any]:
    return dict(client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").raise_for_status().json())


def task_states(client: httpx.Client, dag_id: str, run_id: str) -> dict[str, str | None]:
    tis = client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances").raise_for_status().json()
    return {ti["task_id"]: ti["state"] for ti in tis["task_instances"]}


def trigger(client: httpx.Client, dag_id: str, run_id: str, logical_date: str, conf: dict | None = None) -> None:
    resp = client.post(
        f"/api/v2/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": logical_date, "conf": conf or {}}
    )
    if resp.status_code not in (200, 201):
        raise StackError(f"triggering {dag_id} answered {resp.status_code}: {resp.text[:300]}")
