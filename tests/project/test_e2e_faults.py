"""make e2e's fault drills (scripts/e2e_faults.py): wired into scripts/e2e.sh, and the two tools they
rest on (the SFTP link's throttle, killing a service's whole session) doing what the drills assume.

The drills themselves need the whole topology: they run in `make e2e`.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
e2e_faults = importlib.import_module("e2e_faults")


def test_e2e_runs_the_drills_with_a_short_heartbeat_timeout() -> None:
    e2e = (REPO / "scripts" / "e2e.sh").read_text()
    assert "drill worker kill-upload" in e2e and "drill scheduler kill-scheduler" in e2e
    assert "drill database wait-upload" in e2e and "-m fast -w -t 60 restart" in e2e
    timeout = re.search(r"^export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=(\d+)$", e2e, re.MULTILINE)
    assert timeout is not None and 15 <= int(timeout.group(1)) < 300
    # The drills' PASS/FAIL lines count into the closing total.
    assert "grep -c '^PASS  '" in e2e and 'echo "e2e: $passed passed, $failed failed"' in e2e
    # A killed service is started again the way it was first started.
    assert "topology_restart" in (REPO / "scripts" / "topology.sh").read_text()


def _echo_server() -> tuple[socket.socket, int]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:  # closed at the end of the test
                return
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def _round_trip(port: int, payload: bytes) -> tuple[bytes, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(payload)
        got = b""
        while len(got) < len(payload):
            got += conn.recv(65536)
    return got, time.monotonic() - started


def test_the_proxy_passes_bytes_through_and_throttles_while_its_file_exists(tmp_path: Path) -> None:
    server, target = _echo_server()
    throttle, port_file = tmp_path / "throttle", tmp_path / "port"
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(e2e_faults._proxy(target, port_file, throttle, stop),), daemon=True
    )
    thread.start()
    try:
        for _ in range(100):
            if port_file.exists():
                break
            time.sleep(0.05)
        port = int(port_file.read_text())
        payload = bytes(range(256)) * 20  # 5,120 bytes

        got, fast = _round_trip(port, payload)
        assert got == payload and fast < 0.5

        throttle.write_text("10000\n")  # bytes/s, client to server only
        got, slow = _round_trip(port, payload)
        assert got == payload and slow >= 0.4
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=5)
        loop.close()
        server.close()


def test_kill_session_kills_the_processes_in_other_process_groups_too() -> None:
    """A task process sits in its own process group (the task supervisor's setpgid): killing the
    worker's group would leave it running; killing the session does not."""
    child = "import os, time; os.setpgid(0, 0); time.sleep(60)"
    leader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(60)",
        ],
        start_new_session=True,
    )
    try:
        for _ in range(100):
            if len(e2e_faults.session_pids(leader.pid)) == 2:
                break
            time.sleep(0.05)
        pids = e2e_faults.session_pids(leader.pid)
        assert len(pids) == 2
        assert e2e_faults.kill_session(leader.pid) == 2
        leader.wait(timeout=5)
        assert e2e_faults.session_pids(leader.pid) == []
    finally:
        if leader.poll() is None:
            leader.kill()
            leader.wait()
