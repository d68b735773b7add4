"""Tests for devtools.servers against real loopback servers (no mocks)."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devtools.servers import (
    BACKEND_ENV_VAR,
    SSHD,
    SftpServer,
    SmtpSink,
    airflow_connection,
    airflow_smtp_connection,
    start_sftp,
    start_smtp,
)

REPO = Path(__file__).resolve().parents[2]
HAVE_OPENSSH = SSHD.exists() and os.geteuid() == 0

# A forced backend narrows the matrix, so a box without sshd/root can run the suite as asyncssh.
_FORCED = os.environ.get(BACKEND_ENV_VAR, "").strip().lower()
_BACKENDS = [_FORCED] if _FORCED and _FORCED != "auto" else ["openssh", "asyncssh"]
BACKEND_PARAMS = [
    pytest.param(
        b,
        marks=pytest.mark.skipif(b == "openssh" and not HAVE_OPENSSH, reason="needs /usr/sbin/sshd and root"),
    )
    for b in _BACKENDS
]


def _expected_auto_backend() -> str:
    if _FORCED and _FORCED != "auto":
        return _FORCED
    return "openssh" if HAVE_OPENSSH else "asyncssh"


# ------------------------------------------------------------------------------ helpers


@pytest.fixture(scope="module", autouse=True)
def _airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # Keep Airflow's logs/ away from ~/airflow when this module is the first to import it.
    mp = pytest.MonkeyPatch()
    if "AIRFLOW_HOME" not in os.environ:
        mp.setenv("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow-home")))
    yield
    mp.undo()


@pytest.fixture(params=BACKEND_PARAMS)
def sftp_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SftpServer]:
    server = start_sftp(tmp_path / "root", tmp_path / "keys", request.param)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = start_smtp(tmp_path / "mail")
    try:
        yield sink
    finally:
        sink.stop()


def _ed25519_from_b64(data: str) -> paramiko.Ed25519Key:
    return paramiko.Ed25519Key(data=base64.b64decode(data))


def _other_key(path: Path) -> tuple[Path, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path, key


def _other_host_key_b64(key: Ed25519PrivateKey) -> str:
    line = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return line.decode().split()[1]


def _client(
    server: SftpServer,
    *,
    host_key_b64: str | None = None,
    key_path: Path | None = None,
    username: str | None = None,
) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.get_host_keys().add(
        f"[{server.host}]:{server.port}",
        server.host_key_type,
        _ed25519_from_b64(host_key_b64 or server.host_key_base64),
    )
    client.connect(
        server.host,
        server.port,
        username=username or server.username,
        key_filename=str(key_path or server.client_key_path),
        look_for_keys=False,
        allow_agent=False,
        timeout=5,
        banner_timeout=5,
        auth_timeout=5,
    )
    return client


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _assert_port_free(host: str, port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=2).close()
    # SO_REUSEADDR tolerates TIME_WAIT leftovers but still fails if anything is listening.
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen()


# ------------------------------------------------------------------------------ sftp


def test_paramiko_upload_lands_under_root_and_posix_rename(sftp_server: SftpServer) -> None:
    client = _client(sftp_server)
    try:
        sftp = client.open_sftp()
        sftp.mkdir("/upload")
        sftp.mkdir("/upload/sample_isd")
        with sftp.open("/upload/sample_isd/roster.csv.part", "wb") as fh:
            fh.write(b"id,name\n1,Ada\n")
        sftp.posix_rename("/upload/sample_isd/roster.csv.part", "/upload/sample_isd/roster.csv")
        assert sftp.listdir("/upload/sample_isd") == ["roster.csv"]
    finally:
        client.close()
    landed = sftp_server.root / "upload" / "sample_isd" / "roster.csv"
    assert landed.read_bytes() == b"id,name\n1,Ada\n"
    assert not landed.with_name("roster.csv.part").exists()


def test_chroot_cannot_escape_root(sftp_server: SftpServer) -> None:
    (sftp_server.root / "marker").write_text("x")
    client = _client(sftp_server)
    try:
        sftp = client.open_sftp()
        assert sftp.normalize("/../..") == "/"
        assert "marker" in sftp.listdir("/../../..")
    finally:
        client.close()


def test_sftphook_stores_file_from_env_connection(
    sftp_server: SftpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    conn = airflow_connection(sftp_server)
    assert conn["extra"]["host_key"] == f"ssh-ed25519 {sftp_server.host_key_base64}"
    assert conn["extra"]["no_host_key_check"] is False
    monkeypatch.setenv("AIRFLOW_CONN_TEST_SFTP", json.dumps(conn))
    local = tmp_path / "x.txt"
    local.write_text("hello district\n")

    hook = SFTPHook(ssh_conn_id="test_sftp")
    assert hook.host_key is not None and hook.no_host_key_check is False
    hook.create_directory("/upload/sample_isd")
    hook.store_file("/upload/sample_isd/x.txt", str(local))
    assert hook.list_directory("/upload/sample_isd") == ["x.txt"]
    assert (sftp_server.root / "upload/sample_isd/x.txt").read_text() == "hello district\n"


def test_sftphook_with_wrong_pinned_host_key_raises(
    sftp_server: SftpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    conn = airflow_connection(sftp_server)
    _, other = _other_key(tmp_path / "other")
    conn["extra"]["host_key"] = f"ssh-ed25519 {_other_host_key_b64(other)}"
    monkeypatch.setenv("AIRFLOW_CONN_TEST_SFTP_BAD", json.dumps(conn))
    # conn_retry_attempts=1: the hook otherwise sleeps 3-5 s between three attempts.
    hook = SFTPHook(ssh_conn_id="test_sftp_bad", conn_retry_attempts=1)
    with pytest.raises(paramiko.BadHostKeyException):
        hook.create_directory("/upload")
    assert _tree(sftp_server.root) == []


def test_bare_base64_host_key_is_parsed_as_rsa_by_sshhook(
    sftp_server: SftpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why airflow_connection() always writes the ``ssh-ed25519`` prefix."""
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    conn = airflow_connection(sftp_server)
    conn["extra"]["host_key"] = sftp_server.host_key_base64
    monkeypatch.setenv("AIRFLOW_CONN_TEST_SFTP_BARE", json.dumps(conn))
    with pytest.raises(paramiko.SSHException, match="RSAKey"):
        SFTPHook(ssh_conn_id="test_sftp_bare")


def test_client_pinning_other_host_key_is_refused(sftp_server: SftpServer, tmp_path: Path) -> None:
    _, other = _other_key(tmp_path / "other")
    with pytest.raises(paramiko.BadHostKeyException):
        _client(sftp_server, host_key_b64=_other_host_key_b64(other))
    assert _tree(sftp_server.root) == []


def test_wrong_client_key_is_refused(sftp_server: SftpServer, tmp_path: Path) -> None:
    wrong, _ = _other_key(tmp_path / "wrong_client")
    with pytest.raises(paramiko.AuthenticationException):
        _client(sftp_server, key_path=wrong)
    assert _tree(sftp_server.root) == []


def test_wrong_username_is_refused(sftp_server: SftpServer) -> None:
    with pytest.raises(paramiko.AuthenticationException):
        _client(sftp_server, username="mallory")


def test_stop_frees_port(sftp_server: SftpServer) -> None:
    _client(sftp_server).close()
    sftp_server.stop()
    _assert_port_free(sftp_server.host, sftp_server.port)
    sftp_server.stop()  # idempotent


def test_stop_with_open_session_frees_port(sftp_server: SftpServer) -> None:
    client = _client(sftp_server)
    try:
        client.open_sftp().listdir("/")
        sftp_server.stop()
        _assert_port_free(sftp_server.host, sftp_server.port)
    finally:
        client.close()


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_taken_port_fails_fast(tmp_path: Path, backend: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # The bind error itself, not a start-up timeout (TimeoutError is an OSError too): fast by design.
        with pytest.raises(OSError, match=r"(?i)address already in use") as sftp_error:
            start_sftp(tmp_path / "root", tmp_path / "keys", backend, port=port).stop()
        with pytest.raises(OSError, match=r"(?i)address already in use") as smtp_error:
            start_smtp(tmp_path / "mail", port=port).stop()
        assert not isinstance(sftp_error.value, TimeoutError) and not isinstance(smtp_error.value, TimeoutError)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_keys_are_pinned_and_reused(tmp_path: Path, backend: str) -> None:
    with start_sftp(tmp_path / "root", tmp_path / "keys", backend) as first:
        first_key = first.host_key
        assert first.client_key_path.stat().st_mode & 0o777 == 0o600
        assert first.client_key_path.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
        assert first.host_key_type == "ssh-ed25519"
    with start_sftp(tmp_path / "root", tmp_path / "keys", backend) as second:
        # Same workdir -> same host key, so a running Airflow's connection stays valid.
        assert second.host_key == first_key
        _client(second).close()


@pytest.mark.skipif(not HAVE_OPENSSH, reason="needs /usr/sbin/sshd and root")
def test_openssh_chroot_link_removed_on_stop(tmp_path: Path) -> None:
    server = start_sftp(tmp_path / "root", tmp_path / "keys", "openssh")
    config = (tmp_path / "keys" / "sshd_config").read_text()
    chroot_line = next(line for line in config.splitlines() if line.startswith("ChrootDirectory"))
    chroot = Path(chroot_line.split(maxsplit=1)[1])
    # tmp_path sits under world-writable /tmp, so sshd must be given a link in a safe dir.
    assert chroot != server.root and chroot.resolve() == server.root
    server.stop()
    assert not chroot.exists() and not chroot.is_symlink()


def test_auto_backend_honours_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV_VAR, "asyncssh")
    with start_sftp(tmp_path / "root", tmp_path / "keys") as server:
        assert server.backend == "asyncssh"
        assert server.username == "roster"
    with pytest.raises(ValueError, match="unknown SFTP backend"):
        start_sftp(tmp_path / "root", tmp_path / "keys", "ftp")


def test_auto_without_sshd_uses_asyncssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import devtools.servers as devservers

    monkeypatch.delenv(BACKEND_ENV_VAR, raising=False)
    monkeypatch.setattr(devservers, "SSHD", tmp_path / "no-such-sshd")
    with start_sftp(tmp_path / "root", tmp_path / "keys") as server:
        assert server.backend == "asyncssh"
        _client(server).close()
    with pytest.raises(RuntimeError, match="not installed"):
        start_sftp(tmp_path / "root", tmp_path / "keys", "openssh")


# ------------------------------------------------------------------------------ smtp


def test_smtphook_delivers_to_sink(smtp_sink: SmtpSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    conn = airflow_smtp_connection(smtp_sink)
    assert conn["extra"]["disable_tls"] is True and conn["extra"]["disable_ssl"] is True
    monkeypatch.setenv("AIRFLOW_CONN_TEST_SMTP", json.dumps(conn))
    attachment = tmp_path / "sample_isd_report.csv"
    attachment.write_bytes(b"school,errors\nNorth,0\n")

    with SmtpHook(smtp_conn_id="test_smtp") as hook:
        hook.send_email_smtp(
            to=["ops@example.com", "lead@example.com"],
            cc="district@example.org",
            subject="Roster upload: sample_isd OK",
            html_content="<p>All files delivered.</p>",
            files=[str(attachment)],
        )
        hook.send_email_smtp(to="ops@example.com", subject="second", html_content="<p>2</p>")

    messages = smtp_sink.messages()
    assert [m["Subject"] for m in messages] == ["Roster upload: sample_isd OK", "second"]
    first = messages[0]
    assert first["From"] == conn["extra"]["from_email"]
    assert [a.addr_spec for a in first["To"].addresses] == ["ops@example.com", "lead@example.com"]
    assert [a.addr_spec for a in first["Cc"].addresses] == ["district@example.org"]
    attachments = list(first.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["sample_isd_report.csv"]
    assert attachments[0].get_content() == b"school,errors\nNorth,0\n"
    body = first.get_body(preferencelist=("html",))
    assert body is not None and "All files delivered." in body.get_content()
    assert sorted(p.name for p in smtp_sink.maildir.glob("*.eml")) == ["001.eml", "002.eml"]


def test_smtp_counter_continues_after_restart_and_stop_frees_port(tmp_path: Path) -> None:
    import smtplib

    maildir = tmp_path / "mail"
    for _ in range(2):
        with start_smtp(maildir) as sink, smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
            smtp.sendmail("a@example.com", ["b@example.com"], b"Subject: hi\r\n\r\nbody\r\n")
        _assert_port_free(sink.host, sink.port)
    assert sorted(p.name for p in maildir.glob("*.eml")) == ["001.eml", "002.eml"]
    assert [m["Subject"] for m in sink.messages()] == ["hi", "hi"]


# ------------------------------------------------------------------------------ cli


def _sourced_env(env_file: Path) -> dict[str, str]:
    out = subprocess.run(
        ["bash", "-c", 'set -a; . "$1"; env -0', "bash", str(env_file)],
        check=True,
        capture_output=True,
        timeout=10,
    ).stdout.decode()
    pairs = (item.split("=", 1) for item in out.split("\0") if "=" in item)
    return {k: v for k, v in pairs if k.startswith("AIRFLOW_CONN_")}


def test_cli_serves_until_sigterm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.sftp.hooks.sftp import SFTPHook
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    state = tmp_path / "dev"
    env_file = state / "servers.env"
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'plugins'}{os.pathsep}{REPO}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.servers", "--dir", str(state)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not env_file.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "servers.env never appeared"
            time.sleep(0.05)

        conns = _sourced_env(env_file)
        assert set(conns) == {"AIRFLOW_CONN_RETHINK_SFTP", "AIRFLOW_CONN_SMTP_DEFAULT"}
        sftp_conn = json.loads(conns["AIRFLOW_CONN_RETHINK_SFTP"])
        smtp_conn = json.loads(conns["AIRFLOW_CONN_SMTP_DEFAULT"])
        assert f"sftp backend {_expected_auto_backend()}" in env_file.read_text()
        for key, value in conns.items():
            monkeypatch.setenv(key, value)

        local = tmp_path / "x.txt"
        local.write_text("via cli\n")
        hook = SFTPHook(ssh_conn_id="rethink_sftp")
        hook.create_directory("/upload/sample_isd")
        hook.store_file("/upload/sample_isd/x.txt", str(local))
        assert (state / "sftp/upload/sample_isd/x.txt").read_text() == "via cli\n"

        with SmtpHook() as smtp_hook:  # smtp_default
            smtp_hook.send_email_smtp(to="ops@example.com", subject="cli", html_content="<p>x</p>")
        assert [p.name for p in (state / "mail").glob("*.eml")] == ["001.eml"]

        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)  # a generous bound on a clean stop, not a speed claim
        assert proc.returncode == 0, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert "servers.env" in stdout and str(state / "sftp") in stdout
    assert not env_file.exists()
    _assert_port_free("127.0.0.1", sftp_conn["port"])
    _assert_port_free("127.0.0.1", smtp_conn["port"])
