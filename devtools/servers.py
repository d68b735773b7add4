"""Real SFTP and SMTP servers on loopback for tests and the local demo.

Nothing here is a mock: the SFTP side is either OpenSSH's ``sshd`` (chrooted ``internal-sftp``,
the closest thing to a district's real server) or asyncssh's SFTP server where ``sshd`` is not
available; the SMTP side is an aiosmtpd sink that keeps every message as an ``.eml`` file.

Run ``python -m devtools.servers --dir DIR`` to start both and get ``DIR/servers.env`` with the
``AIRFLOW_CONN_*`` variables that point Airflow at them.
"""

from __future__ import annotations

import argparse
import asyncio
import email.policy
import json
import os
import pwd
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self, cast

import asyncssh
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "BACKEND_ENV_VAR",
    "SSHD",
    "SftpServer",
    "SmtpSink",
    "airflow_connection",
    "airflow_smtp_connection",
    "main",
    "start_sftp",
    "start_smtp",
]

LOOPBACK = "127.0.0.1"
SSHD = Path("/usr/sbin/sshd")
BACKEND_ENV_VAR = "ROSTER_TEST_SFTP_BACKEND"
BACKENDS = ("openssh", "asyncssh")
ASYNCSSH_USERNAME = "roster"
DEFAULT_FROM_EMAIL = "roster-pipeline@example.com"

HOST_KEY_FILE = "host_ed25519"
CLIENT_KEY_FILE = "client_ed25519"

# sshd refuses a ChrootDirectory whose path has a group/world-writable component (e.g. /tmp), so
# such roots are reached through a symlink in this root-owned directory instead.
_CHROOT_LINK_DIR = Path("/run/roster-devservers")
# sshd's privilege-separation directory; minimal images ship sshd without creating it.
_PRIVSEP_DIR = Path("/run/sshd")


# --------------------------------------------------------------------------------------- keys


def _load_or_create_ed25519(path: Path) -> Ed25519PrivateKey:
    """Return the ed25519 key stored at ``path``, generating it (mode 0600) if absent."""
    if path.exists():
        key = serialization.load_ssh_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an ed25519 key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    # Create with 0600 from the start: sshd and ssh refuse keys that were ever readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    path.with_name(path.name + ".pub").write_text(_public_line(key) + "\n")
    return key


def _public_line(key: Ed25519PrivateKey) -> str:
    """Return ``"ssh-ed25519 AAAA..."`` for the key's public half."""
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _check_port_free(port: int) -> None:
    """Raise OSError now if ``port`` is taken, instead of after a server's start-up timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Same option the servers use, so TIME_WAIT leftovers don't count as "taken".
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError as exc:
            raise OSError(exc.errno, f"{LOOPBACK}:{port} is not available: {exc.strerror}") from exc


def _read_banner(host: str, port: int, timeout: float) -> bytes:
    """Connect and return the first bytes the server sends (the SSH version banner)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        return s.recv(256)


# --------------------------------------------------------------------------------------- sftp


class _Runner:
    """One running SFTP implementation; ``SftpServer`` delegates lifecycle to it."""

    def alive(self) -> bool:
        raise NotImplementedError

    def bound(self) -> bool:
        """True once this server (not some other process) owns the port."""
        return True

    def describe_failure(self) -> str:
        return ""

    def stop(self) -> None:
        raise NotImplementedError


class _StopsOnExit:
    """``with server:`` stops the server when the block ends, whatever happened in it."""

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass
class SftpServer(_StopsOnExit):
    """A running loopback SFTP server whose ``/`` is ``root``."""

    host: str
    port: int
    username: str
    client_key_path: Path
    host_key_type: str
    host_key_base64: str
    root: Path
    backend: str
    _runner: _Runner = field(repr=False)
    read_only: bool = False
    _stopped: bool = field(default=False, repr=False)

    @property
    def host_key(self) -> str:
        """The pinned host key as ``"<type> <base64>"``, the form SSHHook's ``host_key`` needs."""
        return f"{self.host_key_type} {self.host_key_base64}"

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until the server answers with an SSH banner; raise if it died or timed out."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if not self._runner.alive():
                raise RuntimeError(
                    f"{self.backend} SFTP server exited during start-up\n" + self._runner.describe_failure()
                )
            try:
                # bound() first: a banner alone could come from another server on a taken port.
                if self._runner.bound() and _read_banner(self.host, self.port, 2.0).startswith(b"SSH-"):
                    return
            except OSError as exc:
                last_error = exc
            time.sleep(0.05)
        raise TimeoutError(
            f"{self.backend} SFTP server on {self.host}:{self.port} not ready after {timeout}s "
            f"({last_error})\n" + self._runner.describe_failure()
        )

    def stop(self) -> None:
        """Stop the server and release its port; safe to call twice."""
        if not self._stopped:
            self._stopped = True
            self._runner.stop()


def _choose_backend(backend: str) -> str:
    if backend == "auto":
        forced = os.environ.get(BACKEND_ENV_VAR, "").strip().lower()
        if forced and forced != "auto":
            backend = forced
        # ChrootDirectory needs root, so a non-root run falls back even when sshd is installed.
        elif SSHD.exists() and os.geteuid() == 0:
            backend = "openssh"
        else:
            backend = "asyncssh"
    if backend not in BACKENDS:
        raise ValueError(f"unknown SFTP backend {backend!r}; expected auto, {', '.join(BACKENDS)}")
    return backend


def start_sftp(
    root: Path, workdir: Path, backend: str = "auto", *, port: int = 0, read_only: bool = False
) -> SftpServer:
    """Start an SFTP server on 127.0.0.1 serving ``root`` as ``/`` and wait until it is ready.

    Keys live in ``workdir`` (reused if present). ``port=0`` picks a free port. ``backend`` is
    ``"openssh"``, ``"asyncssh"`` or ``"auto"`` (``$ROSTER_TEST_SFTP_BACKEND``, else openssh when
    ``/usr/sbin/sshd`` exists and we are root, else asyncssh). ``read_only=True`` makes the server
    refuse every write (open for writing, mkdir, remove, rename, setstat) with SFTP's "permission
    denied", whatever the file system allows: a vendor's folder the login may not write into, and
    one that root in a container cannot write into either.
    """
    chosen = _choose_backend(backend)
    root = Path(root).resolve()
    workdir = Path(workdir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    host_key = _load_or_create_ed25519(workdir / HOST_KEY_FILE)
    client_key = _load_or_create_ed25519(workdir / CLIENT_KEY_FILE)
    key_type, key_b64 = _public_line(host_key).split()[:2]

    if chosen == "openssh":
        return _start_openssh(root, workdir, port, key_type, key_b64, client_key, read_only)
    return _start_asyncssh(root, workdir, port, key_type, key_b64, client_key, read_only)


# --- openssh


def _sshd_version() -> tuple[int, int]:
    out = subprocess.run([str(SSHD), "-V"], capture_output=True, text=True, timeout=10, check=False)
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", out.stderr + out.stdout)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _chroot_path_acceptable(path: Path) -> bool:
    """Mirror sshd's check: every path component root-owned and not group/world-writable."""
    for part in [*reversed(path.parents), path]:
        st = part.stat()
        if st.st_uid != 0 or st.st_mode & 0o022:
            return False
    return True


def _prepare_chroot(root: Path) -> tuple[Path, Path | None]:
    """Make ``root`` usable as a ChrootDirectory; return (path for sshd, symlink to remove)."""
    os.chown(root, 0, 0)
    root.chmod(0o755)
    if _chroot_path_acceptable(root):
        return root, None
    # sshd stat()s each component of the configured path (following symlinks) and never looks at
    # the target's real parents, so a link from a safe directory lets roots live under /tmp.
    _CHROOT_LINK_DIR.mkdir(mode=0o755, exist_ok=True)
    _CHROOT_LINK_DIR.chmod(0o755)
    if not _chroot_path_acceptable(_CHROOT_LINK_DIR):
        raise RuntimeError(f"{_CHROOT_LINK_DIR} is not root-owned 0755; cannot chroot sshd")
    link = _CHROOT_LINK_DIR / f"sftp-{os.getpid()}-{secrets.token_hex(4)}"
    link.symlink_to(root, target_is_directory=True)
    return link, link


def _sshd_config(
    *,
    port: int,
    username: str,
    chroot: Path,
    workdir: Path,
    version: tuple[int, int],
    read_only: bool = False,
) -> str:
    # internal-sftp -R: the server's read-only mode answers every write request "permission denied".
    sftp = "internal-sftp -R" if read_only else "internal-sftp"
    lines = [
        f"ListenAddress {LOOPBACK}:{port}",
        f"HostKey {workdir / HOST_KEY_FILE}",
        f"PidFile {workdir / 'sshd.pid'}",
        f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
        f"AllowUsers {username}",
        "PermitRootLogin prohibit-password",
        "AuthenticationMethods publickey",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "HostbasedAuthentication no",
        "UsePAM no",
        # The generated files sit in a tmp dir whose modes sshd's owner checks would reject.
        "StrictModes no",
        "UseDNS no",
        "PrintMotd no",
        "PermitTTY no",
        "X11Forwarding no",
        "AllowTcpForwarding no",
        "AllowAgentForwarding no",
        "PermitTunnel no",
        "LogLevel VERBOSE",
        "LoginGraceTime 30",
        # Parallel test clients on loopback must not be throttled by the default 10:30:100.
        "MaxStartups 100",
        f"Subsystem sftp {sftp}",
        f"ChrootDirectory {chroot}",
        f"ForceCommand {sftp}",
    ]
    if version >= (9, 8):
        # Since 9.8 sshd blocks addresses after failed auths; tests fail auth on purpose.
        lines.append("PerSourcePenalties no")
    return "\n".join(lines) + "\n"


class _SshdRunner(_Runner):
    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path, pid_path: Path) -> None:
        self._proc = proc
        self._log_path = log_path
        self._pid_path = pid_path
        self.link: Path | None = None

    def alive(self) -> bool:
        return self._proc.poll() is None

    def bound(self) -> bool:
        # sshd writes its PidFile only after its listen sockets are bound.
        try:
            return self._pid_path.read_text().strip() == str(self._proc.pid)
        except OSError:
            return False

    def describe_failure(self) -> str:
        try:
            tail = self._log_path.read_text(errors="replace").splitlines()[-20:]
        except OSError:
            return ""
        return f"sshd exit={self._proc.poll()} log {self._log_path}:\n" + "\n".join(tail)

    def stop(self) -> None:
        # sshd was started as a session leader, so its group also holds its session children.
        pgid = self._proc.pid
        with suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self._proc.wait(timeout=5)
        if self.link is not None:
            self.link.unlink(missing_ok=True)


def _start_openssh(
    root: Path,
    workdir: Path,
    port: int,
    key_type: str,
    key_b64: str,
    client_key: Ed25519PrivateKey,
    read_only: bool,
) -> SftpServer:
    if not SSHD.exists():
        raise RuntimeError(f"openssh backend requested but {SSHD} is not installed")
    if os.geteuid() != 0:
        raise RuntimeError("openssh backend needs root (sshd's ChrootDirectory); use asyncssh")
    if port:
        _check_port_free(port)
    username = pwd.getpwuid(os.geteuid()).pw_name
    _PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    authorized = f"restrict {_public_line(client_key)} roster-devservers\n"
    (workdir / "authorized_keys").write_text(authorized)
    chroot, link = _prepare_chroot(root)
    version = _sshd_version()
    log_path = workdir / "sshd.log"

    # A port picked by _free_port can be taken before sshd binds it; retry only in that case.
    attempts = 3 if port == 0 else 1
    for attempt in range(attempts):
        use_port = port or _free_port()
        config = workdir / "sshd_config"
        config.write_text(
            _sshd_config(
                port=use_port, username=username, chroot=chroot, workdir=workdir, version=version, read_only=read_only
            )
        )
        pid_path = workdir / "sshd.pid"
        pid_path.unlink(missing_ok=True)
        log_offset = log_path.stat().st_size if log_path.exists() else 0
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        runner = _SshdRunner(proc, log_path, pid_path)
        server = SftpServer(
            host=LOOPBACK,
            port=use_port,
            username=username,
            client_key_path=workdir / CLIENT_KEY_FILE,
            host_key_type=key_type,
            host_key_base64=key_b64,
            root=root,
            backend="openssh",
            _runner=runner,
            read_only=read_only,
        )
        try:
            server.wait_ready()
        except (RuntimeError, TimeoutError):
            server.stop()
            with log_path.open("rb") as log:
                log.seek(log_offset)
                bind_clash = b"Address already in use" in log.read()
            if bind_clash and attempt + 1 < attempts:
                continue
            if link is not None:
                link.unlink(missing_ok=True)
            raise
        runner.link = link
        return server
    raise AssertionError("unreachable")


# --- asyncssh


class _ChrootSFTPServer(asyncssh.SFTPServer):
    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], root: Path) -> None:
        super().__init__(chan, chroot=os.fsencode(root))


_WRITE_FLAGS = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC | asyncssh.FXF_APPEND


def _denied(*args: object, **kwargs: object) -> None:  # noqa: ARG001 (stands in for any write request)
    raise asyncssh.SFTPPermissionDenied("read-only server")


class _ReadOnlySFTPServer(_ChrootSFTPServer):
    """What OpenSSH's ``internal-sftp -R`` does: reads served, every write request refused."""

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        if pflags & _WRITE_FLAGS:
            _denied()
        return super().open(path, pflags, attrs)

    def open56(self, path: bytes, desired_access: int, flags: int, attrs: asyncssh.SFTPAttrs) -> object:
        write_access = asyncssh.ACE4_WRITE_DATA | asyncssh.ACE4_APPEND_DATA
        if desired_access & write_access or flags & asyncssh.FXF_ACCESS_DISPOSITION != asyncssh.FXF_OPEN_EXISTING:
            _denied()
        return super().open56(path, desired_access, flags, attrs)

    mkdir = rmdir = remove = rename = posix_rename = _denied
    setstat = lsetstat = fsetstat = symlink = link = _denied


class _KeyOnlyServer(asyncssh.SSHServer):
    """Accept exactly one username + public key; track connections so stop() can close them."""

    def __init__(
        self,
        username: str,
        client_public: asyncssh.SSHKey,
        conns: set[asyncssh.SSHServerConnection],
    ) -> None:
        self._username = username
        self._client_public = client_public
        self._conns = conns
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._conns.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 (asyncssh's callback)
        if self._conn is not None:
            self._conns.discard(self._conn)

    def begin_auth(self, username: str) -> bool:  # noqa: ARG002 (asyncssh's callback; keys decide)
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self._username and key.public_data == self._client_public.public_data


class _AsyncsshRunner(_Runner):
    """asyncssh server on its own event loop in a daemon thread, so callers stay synchronous."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="roster-devservers-sftp", daemon=True)
        self._conns: set[asyncssh.SSHServerConnection] = set()
        self._acceptor: asyncssh.SSHAcceptor | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        if pending:
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def start(self, **listen_kwargs: Any) -> int:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(listen_kwargs), self._loop)
        try:
            self._acceptor = future.result(timeout=10)
        except BaseException:
            self._halt_loop()
            raise
        return self._acceptor.get_port()

    @staticmethod
    async def _listen(listen_kwargs: dict[str, Any]) -> asyncssh.SSHAcceptor:
        # asyncssh.listen returns an awaitable context manager, not a bare coroutine.
        return await asyncssh.listen(**listen_kwargs)

    def alive(self) -> bool:
        return self._thread.is_alive() and self._acceptor is not None

    async def _close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
        conns = list(self._conns)
        for conn in conns:
            conn.close()
        # Bounded so a wedged client cannot hang stop(); the loop teardown cancels the rest.
        if conns:
            await asyncio.wait([asyncio.ensure_future(c.wait_closed()) for c in conns], timeout=2)

    def _halt_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
            self._halt_loop()


def _start_asyncssh(
    root: Path,
    workdir: Path,
    port: int,
    key_type: str,
    key_b64: str,
    client_key: Ed25519PrivateKey,
    read_only: bool,
) -> SftpServer:
    runner = _AsyncsshRunner()
    sftp_class = _ReadOnlySFTPServer if read_only else _ChrootSFTPServer
    host_pem = (workdir / HOST_KEY_FILE).read_bytes()
    client_public = asyncssh.import_public_key(_public_line(client_key))
    conns = runner._conns
    actual_port = runner.start(
        host=LOOPBACK,
        port=port,
        reuse_address=True,
        server_host_keys=[asyncssh.import_private_key(host_pem)],
        server_factory=lambda: _KeyOnlyServer(ASYNCSSH_USERNAME, client_public, conns),
        sftp_factory=lambda chan: sftp_class(chan, root),
        allow_scp=False,
    )
    server = SftpServer(
        host=LOOPBACK,
        port=actual_port,
        username=ASYNCSSH_USERNAME,
        client_key_path=workdir / CLIENT_KEY_FILE,
        host_key_type=key_type,
        host_key_base64=key_b64,
        root=root,
        backend="asyncssh",
        _runner=runner,
        read_only=read_only,
    )
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


def airflow_connection(server: SftpServer, conn_type: str = "sftp") -> dict[str, Any]:
    """Airflow connection (``AIRFLOW_CONN_<ID>`` JSON) for SSHHook/SFTPHook, host key pinned.

    ``host_key`` carries the type prefix on purpose: SSHHook parses a bare base64 key as RSA.
    """
    return {
        "conn_type": conn_type,
        "host": server.host,
        "port": server.port,
        "login": server.username,
        "extra": {
            "key_file": str(server.client_key_path),
            "host_key": server.host_key,
            "no_host_key_check": False,
            # Only the generated key should ever be offered, not whatever sits in ~/.ssh.
            "look_for_keys": False,
        },
    }


# --------------------------------------------------------------------------------------- smtp


class _MaildirHandler:
    """aiosmtpd handler writing each message's raw bytes to ``<maildir>/<nnn>.eml``."""

    def __init__(self, maildir: Path) -> None:
        self._maildir = maildir
        self._lock = threading.Lock()
        # Continue after existing files so a restart into the same maildir never overwrites mail.
        numbers = [int(p.stem) for p in maildir.glob("*.eml") if p.stem.isdigit()]
        self._next = max(numbers, default=0) + 1

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: ARG002 (aiosmtpd's hook)
        raw = envelope.original_content
        if raw is None:
            content = envelope.content or b""
            if isinstance(content, str):
                content = content.encode("utf-8", "surrogateescape")
            raw = content
        with self._lock:
            number = self._next
            self._next += 1
        final = self._maildir / f"{number:03d}.eml"
        partial = self._maildir / f".{number:03d}.eml.part"
        partial.write_bytes(raw)
        # Rename so messages() never parses a half-written file.
        os.replace(partial, final)
        return "250 Message accepted for delivery"


class _AnyPortController(Controller):
    """Controller that may bind port 0 and learns the real port before its self-check."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = int(cast(asyncio.Server, self.server).sockets[0].getsockname()[1])
        super()._trigger_server()


@dataclass
class SmtpSink(_StopsOnExit):
    """A running loopback SMTP server that stores every message in ``maildir``."""

    host: str
    port: int
    maildir: Path
    _controller: Controller = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    def messages(self) -> list[EmailMessage]:
        """All received messages, oldest first, parsed with ``email.policy.default``."""
        parser = BytesParser(policy=email.policy.default)
        files = sorted((p for p in self.maildir.glob("*.eml") if p.stem.isdigit()), key=lambda p: int(p.stem))
        out: list[EmailMessage] = []
        for path in files:
            msg = parser.parsebytes(path.read_bytes())
            assert isinstance(msg, EmailMessage)  # guaranteed by policy.default
            out.append(msg)
        return out

    def stop(self) -> None:
        """Stop the server and release its port; safe to call twice."""
        if not self._stopped:
            self._stopped = True
            self._controller.stop()


def start_smtp(maildir: Path, *, port: int = 0) -> SmtpSink:
    """Start a plain (no TLS, no AUTH) SMTP sink on 127.0.0.1; ``port=0`` picks a free port."""
    maildir = Path(maildir).resolve()
    maildir.mkdir(parents=True, exist_ok=True)
    if port:
        # aiosmtpd only reports a failed bind after its whole ready_timeout.
        _check_port_free(port)
    controller = _AnyPortController(
        _MaildirHandler(maildir),
        hostname=LOOPBACK,
        port=port,
        ready_timeout=10.0,
    )
    controller.start()  # returns once the server has answered a real SMTP greeting
    return SmtpSink(host=LOOPBACK, port=int(controller.port), maildir=maildir, _controller=controller)


def airflow_smtp_connection(sink: SmtpSink, from_email: str = DEFAULT_FROM_EMAIL) -> dict[str, Any]:
    """Airflow connection JSON making SmtpHook deliver to ``sink`` in plain text, without login.

    SmtpHook reads these extras with ``bool(value)``, so they must be JSON booleans: the string
    ``"false"`` would still disable TLS/SSL.
    """
    return {
        "conn_type": "smtp",
        "host": sink.host,
        "port": sink.port,
        "extra": {
            "disable_tls": True,
            "disable_ssl": True,
            "from_email": from_email,
            "timeout": 10,
            # SmtpHook resends on *any* error; against a local sink that only duplicates mail.
            "retry_limit": 0,
        },
    }


# --------------------------------------------------------------------------------------- cli


def _write_env_file(path: Path, sftp: SftpServer, smtp: SmtpSink) -> None:
    lines = [
        f"# roster devservers pid {os.getpid()}; sftp backend {sftp.backend}. Source this file.",
        "export AIRFLOW_CONN_RETHINK_SFTP=" + shlex.quote(json.dumps(airflow_connection(sftp))),
        "export AIRFLOW_CONN_SMTP_DEFAULT=" + shlex.quote(json.dumps(airflow_smtp_connection(smtp))),
    ]
    partial = path.with_name(path.name + ".part")
    partial.write_text("\n".join(lines) + "\n")
    # Atomic so a Makefile polling for the file never sources half of it.
    os.replace(partial, path)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.servers",
        description="Run loopback SFTP + SMTP dev servers until SIGTERM/SIGINT.",
    )
    parser.add_argument("--dir", required=True, type=Path, help="state dir (sftp/, mail/, keys/)")
    parser.add_argument("--sftp-port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--smtp-port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--backend", choices=("auto", *BACKENDS), default="auto")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    args = _parse_args(argv)
    base: Path = args.dir.resolve()
    base.mkdir(parents=True, exist_ok=True)
    env_path = base / "servers.env"
    # A stale file would tell a waiting Makefile the servers are up before they are.
    env_path.unlink(missing_ok=True)

    stop_requested = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 (a signal handler's signature)
        stop_requested.set()

    # Installed before start-up so a signal during start-up still ends in a clean stop.
    previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, _on_signal)

    try:
        with ExitStack() as stack:
            try:
                sftp = start_sftp(base / "sftp", base / "keys", args.backend, port=args.sftp_port)
                stack.callback(sftp.stop)
                smtp = start_smtp(base / "mail", port=args.smtp_port)
                stack.callback(smtp.stop)
            except Exception as exc:  # noqa: BLE001 (any start-up failure ends the command with one line)
                print(f"devtools.servers: start-up failed: {exc}", file=sys.stderr, flush=True)
                return 1
            _write_env_file(env_path, sftp, smtp)
            stack.callback(env_path.unlink, missing_ok=True)
            print(
                f"devtools.servers: sftp ({sftp.backend}) {sftp.username}@{sftp.host}:{sftp.port} "
                f"root={sftp.root} key={sftp.client_key_path}; smtp {smtp.host}:{smtp.port} "
                f"mail={smtp.maildir}; env={env_path}; stop with SIGTERM/SIGINT",
                flush=True,
            )
            # Short timeouts keep the main thread responsive to signals on every platform.
            while not stop_requested.wait(0.5):
                pass
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
