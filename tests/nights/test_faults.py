"""Transfer and mail faults against the real loopback servers: clear verdicts, nothing half-sent.

* SFTP server down: the upload retries (``try_number`` 2 with ``ROSTER_TRANSFER_RETRIES=1``), then
  fails with one line naming the connection and the server; nothing is written, nothing recorded.
* The connection cut mid-upload (the server's session killed while the bytes flow): no file under
  the final name; the temporary file is removed; the next attempt delivers the whole file, and the
  night's delivery asset gets one event, not one per attempt. When the
  server cannot even be reached to remove it, the next upload removes the leftover first.
* The remote folder not writable (a server that refuses writes: ``internal-sftp -R`` or its asyncssh
  twin, so it bites for root in a container too): refused at once (no retry) with "permission denied".
* SMTP down: the email task retries and fails visibly; nothing is delivered or marked delivered.

A changed host key and wrong credentials are covered in ``test_oncall_nights.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import INCLUDE, asset_events, configure_district

pytestmark = pytest.mark.e2e

NIGHT = dt.date(2026, 11, 20)
LOGICAL = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)  # 02:00 America/Chicago
SECOND = dt.date(2026, 11, 21)
EXPORT = INCLUDE / "inbound" / "sample_isd" / "roster_20261120.csv"
REMOTE_DIR = Path("upload/sample_isd")
REMOTE_NAME = "sample_isd_roster_20261120.txt"
CONN_ID = "rethink_sftp"


def _dag(root: Path):
    from roster.airflow.nightly import build_all

    return build_all(root=root)["roster_sample_isd"]


def _tis(run) -> dict:
    return {ti.task_id: ti for ti in run.get_task_instances()}


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _closed_port() -> int:
    """A loopback port nobody listens on: connecting to it is refused, like a server that is down."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_files(night_env: dict) -> list[str]:
    root: Path = night_env["sftp_root"]
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _snapshot_pointer(night_env: dict) -> Path:
    return night_env["data_root"] / "sample_isd" / "snapshot" / "snapshot.json"


def _report(night_env: dict, day: dt.date = NIGHT) -> dict:
    return json.loads((night_env["data_root"] / "sample_isd" / day.isoformat() / "qa_report.json").read_text())


def _oncall(night_env: dict) -> list:
    return [m for m in night_env["smtp"].messages() if m["To"] == "data-oncall@example.org"]


def _configure(include: Path, **changes: object) -> None:
    configure_district(include, "sample_isd", **changes)


# Server-side faults -------------------------------------------------------------------------------


def _cut_sessions(server) -> None:
    """Kill the server side of every open SFTP session: the TCP connection drops mid-transfer."""
    if server.backend == "openssh":
        import psutil

        # The listening sshd stays up; each connection is served by a child process (sshd-session).
        children = psutil.Process(server._runner._proc.pid).children(recursive=True)
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        _gone, alive = psutil.wait_procs(children, timeout=30)
        assert not alive, f"sshd session processes still running: {alive}"
    else:
        runner = server._runner
        conns = list(runner._conns)

        def abort() -> None:
            for conn in conns:
                conn.abort()

        runner._loop.call_soon_threadsafe(abort)
        # Aborted connections leave the server's set when asyncssh reports them lost.
        deadline = time.monotonic() + 30
        while any(conn in runner._conns for conn in conns):
            assert time.monotonic() < deadline, "asyncssh sessions still open 30 s after abort()"
            time.sleep(0.01)


class _CutAfter:
    """The local file as paramiko reads it for an upload, in small pieces; after ``after`` bytes the
    server's session is killed, so the rest of the upload meets a dead connection."""

    def __init__(self, handle, after: int, cut: Callable[[], None]) -> None:
        self._handle, self._after, self._cut = handle, after, cut
        self.sent = 0
        self.cut_done = False

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(4096 if size is None or size < 0 else min(size, 4096))
        self.sent += len(data)
        if not self.cut_done and self.sent >= self._after:
            self.cut_done = True
            self._cut()
        return data

    def __getattr__(self, name: str):
        return getattr(self._handle, name)


@contextlib.contextmanager
def cut_uploads(server, monkeypatch: pytest.MonkeyPatch, *, after: int = 8192, times: int = 1) -> Iterator[list]:
    """The next ``times`` uploads lose their connection after ``after`` bytes; yields the readers used."""
    import paramiko

    original = paramiko.SFTPClient.putfo
    readers: list[_CutAfter] = []

    def putfo(self, fl, remotepath, file_size=0, callback=None, confirm=True):
        if len(readers) < times:
            fl = _CutAfter(fl, after, lambda: _cut_sessions(server))
            readers.append(fl)
        return original(self, fl, remotepath, file_size, callback, confirm)

    monkeypatch.setattr(paramiko.SFTPClient, "putfo", putfo)
    yield readers
    monkeypatch.setattr(paramiko.SFTPClient, "putfo", original)


@pytest.fixture
def read_only(
    read_only_sftp: dict, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Path], contextlib.AbstractContextManager]:
    """``with read_only(folder):`` the folder exists, and the night's SFTP connection goes to a server
    over the same files that refuses every write with "permission denied" (a server-side setting, so
    it bites for any login, root included, on any file system)."""

    @contextlib.contextmanager
    def read_only_folder(folder: Path) -> Iterator[None]:
        folder.mkdir(parents=True, exist_ok=True)
        with monkeypatch.context() as patch:
            patch.setenv("AIRFLOW_CONN_RETHINK_SFTP", json.dumps(read_only_sftp["conn"]))
            yield

    return read_only_folder


# SFTP server down -----------------------------------------------------------------------------------


def test_sftp_server_down_retries_then_fails_clearly(
    night_env: dict, servers: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = json.loads(json.dumps(servers["sftp_conn"]))
    connection["port"] = _closed_port()
    monkeypatch.setenv("AIRFLOW_CONN_RETHINK_SFTP", json.dumps(connection))

    run = _dag(INCLUDE).test(logical_date=LOGICAL)

    upload = _tis(run)["upload_roster"]
    assert str(run.state) == "failed"
    assert str(upload.state) == "failed"
    assert upload.try_number == 2  # ROSTER_TRANSFER_RETRIES=1: one retry, then the failure
    assert str(_tis(run)["notify_summary"].state) == "upstream_failed"
    assert _server_files(night_env) == []
    assert not _snapshot_pointer(night_env).exists()
    assert _report(night_env)["rows_delivered"] == 0  # not marked delivered
    [email] = _oncall(night_env)
    body = html.unescape(email.get_body(("html",)).get_content())
    assert (
        f"the transfer with the SFTP server of connection '{CONN_ID}' at 127.0.0.1:{connection['port']} failed" in body
    )
    assert "NoValidConnectionsError" in body or "ConnectionRefusedError" in body


# The connection cut mid-upload ----------------------------------------------------------------------


def test_connection_cut_mid_upload_leaves_nothing_under_the_final_name(
    night_env: dict, servers: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from roster.airflow.hooks import sftp as transfer
    from roster.errors import TransferError

    local = tmp_path / REMOTE_NAME
    local.write_bytes(os.urandom(3 << 20))  # 3 MiB: the cut comes long before the end
    final = night_env["sftp_root"] / REMOTE_DIR / REMOTE_NAME

    with cut_uploads(servers["sftp"], monkeypatch) as readers, pytest.raises(transfer.NetworkError) as info:
        transfer.upload(CONN_ID, local, "/" + REMOTE_DIR.as_posix(), REMOTE_NAME)
    assert readers and readers[0].cut_done and readers[0].sent < local.stat().st_size
    assert not isinstance(info.value, TransferError)  # a network fault: the task's retry handles it
    assert f"uploading to /{REMOTE_DIR.as_posix()}/{REMOTE_NAME}" in str(info.value)
    assert "\n" not in str(info.value)
    assert not final.exists()
    assert _server_files(night_env) == []  # the temporary file was removed over a fresh connection

    delivered = transfer.upload(CONN_ID, local, "/" + REMOTE_DIR.as_posix(), REMOTE_NAME)

    assert delivered.size == local.stat().st_size
    assert final.read_bytes() == local.read_bytes()
    assert _server_files(night_env) == [f"{REMOTE_DIR.as_posix()}/{REMOTE_NAME}"]


def test_a_leftover_temporary_file_is_removed_by_the_next_upload(
    night_env: dict, servers: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """When even the clean-up cannot reach the server, the hidden ``.part`` stays; the next upload removes it."""
    from roster.airflow.hooks import sftp as transfer

    local = tmp_path / REMOTE_NAME
    local.write_bytes(os.urandom(1 << 20))
    folder = night_env["sftp_root"] / REMOTE_DIR
    unrelated = folder / ".other_file.txt.0123456789ab.part"

    with monkeypatch.context() as patch:
        patch.setattr(transfer, "_remove_quietly", lambda hook, path: None)
        with cut_uploads(servers["sftp"], patch), pytest.raises(transfer.NetworkError):
            transfer.upload(CONN_ID, local, "/" + REMOTE_DIR.as_posix(), REMOTE_NAME)
    leftovers = [p.name for p in folder.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(f".{REMOTE_NAME}.") and leftovers[0].endswith(".part")
    assert (folder / leftovers[0]).stat().st_size < local.stat().st_size
    unrelated.write_bytes(b"someone else's upload")

    transfer.upload(CONN_ID, local, "/" + REMOTE_DIR.as_posix(), REMOTE_NAME)

    assert (folder / REMOTE_NAME).read_bytes() == local.read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [REMOTE_NAME, unrelated.name]
    )  # only our own leftovers go


def test_a_night_whose_upload_is_cut_delivers_on_the_retry_with_one_asset_event(
    night_env: dict, servers: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failed first try emits no delivery event; the retry that delivers emits exactly one."""
    with cut_uploads(servers["sftp"], monkeypatch, after=4096) as readers:
        run = _dag(INCLUDE).test(logical_date=LOGICAL)

    upload = _tis(run)["upload_roster"]
    assert readers and readers[0].cut_done
    assert str(run.state) == "success", _states(run)
    assert str(upload.state) == "success" and upload.try_number == 2
    run_dir = night_env["data_root"] / "sample_isd" / NIGHT.isoformat()
    assert (night_env["sftp_root"] / REMOTE_DIR / REMOTE_NAME).read_bytes() == (run_dir / REMOTE_NAME).read_bytes()
    assert _server_files(night_env) == [f"{REMOTE_DIR.as_posix()}/{REMOTE_NAME}"]
    assert json.loads(_snapshot_pointer(night_env).read_text())["date"] == NIGHT.isoformat()
    assert _report(night_env)["rows_delivered"] == 286
    from roster.airflow.assets import sha256_of

    [event] = asset_events(run)
    assert event["roster_date"] == NIGHT.isoformat() and event["rows"] == 286
    assert event["sha256"] == sha256_of(run_dir / REMOTE_NAME)


# The remote folder not writable ---------------------------------------------------------------------


def test_remote_folder_not_writable_fails_at_once(night_env: dict, read_only) -> None:
    folder = night_env["sftp_root"] / REMOTE_DIR
    with read_only(folder):
        run = _dag(INCLUDE).test(logical_date=LOGICAL)

    upload = _tis(run)["upload_roster"]
    assert str(run.state) == "failed"
    assert str(upload.state) == "failed" and upload.try_number == 1  # no retry: retrying cannot help
    assert _server_files(night_env) == []
    assert not _snapshot_pointer(night_env).exists()
    assert _report(night_env)["rows_delivered"] == 0
    [email] = _oncall(night_env)
    body = html.unescape(email.get_body(("html",)).get_content())
    assert (
        f"uploading to /{REMOTE_DIR.as_posix()}/{REMOTE_NAME}: permission denied on the SFTP server of connection '{CONN_ID}'"
        in body
    )
    assert "not writable" in body


def test_transfer_upload_into_a_read_only_folder_raises_transfer_error(
    night_env: dict, tmp_path: Path, read_only
) -> None:
    from roster.airflow.hooks import sftp as transfer
    from roster.errors import TransferError

    local = tmp_path / REMOTE_NAME
    local.write_bytes(b"State IDNumber|Grade\r\n")
    with read_only(night_env["sftp_root"] / REMOTE_DIR):
        with pytest.raises(TransferError, match="permission denied") as info:
            transfer.upload(CONN_ID, local, "/" + REMOTE_DIR.as_posix(), REMOTE_NAME)
        # A missing sub-folder cannot be created there either.
        with pytest.raises(TransferError, match="permission denied"):
            transfer.upload(CONN_ID, local, "/" + REMOTE_DIR.as_posix() + "/qa", REMOTE_NAME)
    assert "\n" not in str(info.value)
    assert _server_files(night_env) == []


# SMTP down ------------------------------------------------------------------------------------------


def _smtp_down(servers: dict, monkeypatch: pytest.MonkeyPatch) -> int:
    connection = json.loads(json.dumps(servers["smtp_conn"]))
    connection["port"] = _closed_port()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(connection))
    return connection["port"]


def test_smtp_down_on_a_qa_failure_retries_and_fails_visibly(
    night_env: dict, servers: dict, include_copy: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    _configure(include_copy, qa__max_reject_rate=0.01)
    port = _smtp_down(servers, monkeypatch)

    run = _dag(include_copy).test(logical_date=LOGICAL)

    notify = _tis(run)["notify_qa_failure"]
    assert str(run.state) == "failed"
    assert str(notify.state) == "failed" and notify.try_number == 2  # retried, then failed
    assert _server_files(night_env) == []
    assert not _snapshot_pointer(night_env).exists()
    assert night_env["smtp"].messages() == []
    assert _report(night_env)["rows_delivered"] == 0
    output = capfd.readouterr()
    assert f"SMTP connection 'smtp_default' (127.0.0.1:{port}): could not send" in output.out + output.err


def test_smtp_down_on_a_held_night_delivers_nothing_and_marks_nothing(
    night_env: dict, servers: dict, include_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = EXPORT.read_bytes().split(b"\r\n")
    (include_copy / "inbound" / "sample_isd" / "roster_20261121.csv").write_bytes(b"\r\n".join(lines[:151]) + b"\r\n")
    first = _dag(include_copy).test(logical_date=LOGICAL)
    assert str(first.state) == "success", _states(first)
    _smtp_down(servers, monkeypatch)

    run = _dag(include_copy).test(logical_date=LOGICAL + dt.timedelta(days=1))

    states = _states(run)
    notify = _tis(run)["notify_hold"]
    assert str(run.state) == "failed", states
    assert states["notify_hold"] == "failed" and notify.try_number == 2
    assert states["review_hold"] == "upstream_failed"
    assert states["upload_roster"] == "upstream_failed" and states["notify_summary"] == "upstream_failed"
    assert _server_files(night_env) == [f"{REMOTE_DIR.as_posix()}/{REMOTE_NAME}"]  # night 1's file only
    assert json.loads(_snapshot_pointer(night_env).read_text())["date"] == NIGHT.isoformat()
    assert _report(night_env, SECOND)["rows_delivered"] == 0
    # Night 1's summary only: night 2 sent nothing.
    assert [m["Subject"].split(": ")[0] for m in night_env["smtp"].messages()] == [
        "[roster] Sample ISD (sample_isd) 2026-11-20"
    ]
