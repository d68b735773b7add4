"""``devtools.sshd_log``: the most SFTP sessions open at once, from sshd's log lines in order."""

from __future__ import annotations

from devtools.sshd_log import sessions


def _open(port: int) -> str:
    return f"Starting session: forced-command (config) 'internal-sftp' for root from 127.0.0.1 port {port} id 0"


def _close(port: int) -> str:
    return f"Close session: user root from 127.0.0.1 port {port} id 0"


def test_overlapping_sessions_count_at_their_peak() -> None:
    log = [_open(1), _open(2), _close(1), _open(3), _open(4), _close(2), _close(3), _close(4)]
    result = sessions("\n".join(["Server listening on 127.0.0.1 port 22.", *log, "Received signal 15"]))
    assert (result.opened, result.closed, result.max_open) == (4, 4, 3)


def test_sequential_sessions_are_one_at_a_time_and_a_stray_close_counts_nothing() -> None:
    log = [_close(9), _open(1), _close(1), _open(2), _close(2)]
    result = sessions("\n".join(log))
    assert (result.opened, result.closed, result.max_open) == (2, 2, 1)


def test_a_connection_reset_ends_its_sessions() -> None:
    log = [_open(1), "Read error from remote host 127.0.0.1 port 1: Connection reset by peer", _open(2), _close(2)]
    result = sessions("\n".join(log))
    assert (result.opened, result.closed, result.max_open) == (2, 2, 1)


def test_a_real_sshd_session_is_counted(servers: dict) -> None:
    """The line formats match the sshd the tests run (skipped on the asyncssh backend, which logs none)."""
    import paramiko
    import pytest

    server = servers["sftp"]
    if server.backend != "openssh":
        pytest.skip("the asyncssh backend writes no sshd log")
    log_path = server.client_key_path.parent / "sshd.log"
    offset = log_path.stat().st_size
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(server.host, server.port, username=server.username, key_filename=str(server.client_key_path))
    sftp = client.open_sftp()
    sftp.listdir("/")
    with log_path.open() as fh:
        fh.seek(offset)
        during = sessions(fh.read())
    sftp.close()
    client.close()
    assert (during.opened, during.max_open) == (1, 1)
