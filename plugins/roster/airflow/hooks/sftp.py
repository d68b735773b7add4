"""SFTP transfers through the SFTP provider's hook: fetch an export, deliver a roster atomically.

Host keys are always verified: a connection without a pinned ``host_key`` is refused before any
network traffic, and nothing here sets ``no_host_key_check``. Faults are sorted into two kinds:
``TransferError`` (authentication, host key, permissions: retrying cannot help, fail at once) and
everything else (network), which the task's retries with exponential backoff handle; those are
re-raised as ``NetworkError`` with one line naming the connection, the server and the cause.

An upload writes a hidden temporary name (``.<name>.<random>.part``) and renames it over the final
name, so the final name never holds a partial file. When the connection is cut mid-upload the
temporary file is removed over a fresh connection; if the server is unreachable even for that, the
next upload of the same file name removes the leftover before it starts.
"""

from __future__ import annotations

import errno
import os
import posixpath
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from roster.errors import TransferError

if TYPE_CHECKING:
    from airflow.providers.sftp.hooks.sftp import SFTPHook


class NetworkError(ConnectionError):
    """The SFTP server could not be reached or the connection broke: the task retries with backoff.

    Not a ``RosterError`` on purpose: retrying can fix it. The message is one line without data.
    """


@dataclass(frozen=True)
class Delivered:
    remote_path: str
    size: int


def parse_sftp_url(url: str) -> tuple[str, str]:
    """``sftp://<conn_id>/<path>`` as (conn_id, absolute remote path)."""
    rest = url.removeprefix("sftp://")
    conn_id, _, path = rest.partition("/")
    if not conn_id or not path:
        raise TransferError(f"{url!r} is not of the form sftp://<conn_id>/<path>")
    return conn_id, "/" + path


def _hook(conn_id: str) -> SFTPHook:
    from airflow.providers.sftp.hooks.sftp import SFTPHook
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # noqa: BLE001 - the SDK raises its own not-found types; all mean the same to a user
        raise TransferError(f"Airflow connection {conn_id!r} is not defined ({type(exc).__name__})") from None
    if not (conn.extra_dejson or {}).get("host_key"):
        raise TransferError(
            f"Airflow connection {conn_id!r} has no pinned host_key in its extra; "
            "add the server's public host key (ssh-keyscan) so the server can be verified"
        )
    try:
        # One connect attempt: network faults are retried by the task with backoff, and an
        # authentication or host-key fault must fail at once instead of three times.
        return SFTPHook(ssh_conn_id=conn_id, conn_retry_attempts=1)
    except ValueError as exc:
        raise TransferError(f"Airflow connection {conn_id!r}: {exc}") from None


def _classify(exc: BaseException, conn_id: str, what: str) -> BaseException:
    """A ``TransferError`` for faults that retrying cannot fix; the original exception otherwise."""
    import paramiko

    fatal = _fatal_reason(exc, conn_id, what)
    if fatal is not None:
        return TransferError(fatal)
    if isinstance(exc, FileNotFoundError | NetworkError):
        return exc
    if isinstance(exc, OSError | EOFError | paramiko.SSHException):
        detail = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")[:200]
        return NetworkError(
            f"{what}: the transfer with the SFTP server of connection {conn_id!r}{_server(conn_id)} failed "
            f"({type(exc).__name__}{': ' + detail if detail else ''}); network faults are retried with backoff"
        )
    return exc


def _fatal_reason(exc: BaseException, conn_id: str, what: str) -> str | None:
    """The message for a host-key, credential or permission fault; ``None`` for anything else."""
    import paramiko

    if isinstance(exc, paramiko.BadHostKeyException):
        return (
            f"{what}: the SFTP server of connection {conn_id!r} presented a host key that does not match "
            "the pinned host_key; nothing was sent. If the vendor really changed its key, confirm it with them and update the connection."
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return f"{what}: the SFTP server refused the credentials of connection {conn_id!r} ({exc})"
    if isinstance(exc, paramiko.SSHException) and "known_hosts" in str(exc):
        return f"{what}: the SFTP server of connection {conn_id!r} is not the pinned host ({exc})"
    if isinstance(exc, PermissionError) or (
        isinstance(exc, OSError) and (exc.errno in (errno.EACCES, errno.EPERM) or _refused(exc))
    ):
        return (
            f"{what}: permission denied on the SFTP server of connection {conn_id!r} ({exc}); "
            "the remote folder is not writable (or readable) for the connection's login: ask the vendor"
        )
    return None


#: How SFTP servers word a refusal when they answer with the generic SSH_FX_FAILURE status instead of
#: SSH_FX_PERMISSION_DENIED (asyncssh for EPERM, several commercial servers for their ACLs).
_REFUSALS = (
    "permission denied",
    "operation not permitted",
    "access denied",
    "access is denied",
    "read-only file system",
)


def _refused(exc: OSError) -> bool:
    """An SFTP status error (no errno: the server's own words) that says the server refused."""
    return exc.errno is None and any(word in str(exc).lower() for word in _REFUSALS)


def _server(conn_id: str) -> str:
    """`` at host:port`` of the connection, or nothing when it cannot be read."""
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
        return f" at {conn.host}:{conn.port or 22}"
    except Exception:  # noqa: BLE001 - only decoration for a message
        return ""


def fetch(url: str, local_path: Path) -> int:
    """Download ``sftp://<conn_id>/<path>`` to ``local_path``; the size in bytes."""
    conn_id, remote = parse_sftp_url(url)
    hook = _hook(conn_id)
    tmp = local_path.with_name(f".{local_path.name}.part")
    try:
        # Owner-only from the first byte: an export is student records (paramiko's get() would
        # create the file with the umask's mode).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle, hook.get_managed_conn() as sftp:
            size = sftp.getfo(remote, handle)
            handle.flush()
            if os.fstat(handle.fileno()).st_size != size:
                raise OSError(f"{url}: {os.fstat(handle.fileno()).st_size} bytes arrived, the server reported {size}")
    except FileNotFoundError:
        tmp.unlink(missing_ok=True)
        raise
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise _classify(exc, conn_id, f"fetching {url}") from exc
    tmp.replace(local_path)
    return local_path.stat().st_size


def exists(url: str) -> bool:
    conn_id, remote = parse_sftp_url(url)
    try:
        with _hook(conn_id).get_managed_conn() as sftp:
            sftp.stat(remote)
            return True
    except FileNotFoundError:
        return False
    except Exception as exc:
        raise _classify(exc, conn_id, f"looking for {url}") from exc


def _makedirs(sftp, remote_dir: str) -> None:
    parts = [p for p in remote_dir.split("/") if p]
    current = "/"
    for part in parts:
        current = posixpath.join(current, part)
        try:
            sftp.stat(current)
        except FileNotFoundError:
            sftp.mkdir(current, mode=0o750)


def temporary_name(remote_name: str) -> str:
    """A fresh hidden temporary name for one upload of ``remote_name``."""
    return f".{remote_name}.{uuid.uuid4().hex[:12]}.part"


def _is_temporary_of(name: str, remote_name: str) -> bool:
    return re.fullmatch(re.escape(f".{remote_name}.") + r"[0-9a-f]{12}\.part", name) is not None


def _remove_leftovers(sftp, remote_dir: str, remote_name: str) -> None:
    """Remove temporary files an earlier, interrupted upload of ``remote_name`` left behind.

    Best effort: some vendors' drop folders may be written but not listed, and a leftover is harmless
    (hidden, never the final name).
    """
    try:
        names = sftp.listdir(remote_dir)
    except OSError:
        return
    for name in names:
        if _is_temporary_of(name, remote_name):
            try:
                sftp.remove(posixpath.join(remote_dir, name))
            except FileNotFoundError:  # another attempt removed it meanwhile
                continue


def upload(conn_id: str, local_path: Path, remote_dir: str, remote_name: str) -> Delivered:
    """Deliver ``local_path`` as ``remote_dir/remote_name``, atomically.

    The bytes go to a hidden temporary name in the same folder, the size is checked, then
    ``posix_rename`` moves it over the final name: the final name never holds a partial file, and a
    re-run replaces the same name. Temporary files of earlier interrupted uploads of the same name
    are removed first.
    """
    hook = _hook(conn_id)
    final = posixpath.join(remote_dir, remote_name)
    tmp = posixpath.join(remote_dir, temporary_name(remote_name))
    expected = local_path.stat().st_size
    what = f"uploading to {final}"
    sftp = None
    try:
        with hook.get_managed_conn() as sftp:
            _makedirs(sftp, remote_dir)
            _remove_leftovers(sftp, remote_dir, remote_name)
            sftp.put(str(local_path), tmp, confirm=True)
            size = sftp.stat(tmp).st_size
            if size != expected:
                raise OSError(f"{tmp}: {size} bytes arrived, {expected} were sent")
            sftp.posix_rename(tmp, final)
            size = sftp.stat(final).st_size
            if size != expected:
                raise OSError(f"{final}: holds {size} bytes after the rename, {expected} were sent")
            return Delivered(remote_path=final, size=size)
    except Exception as exc:
        if sftp is not None:
            _remove_quietly(hook, tmp)
        raise _classify(exc, conn_id, what) from exc


def _remove_quietly(hook: SFTPHook, path: str) -> None:
    """Best effort: a leftover temporary file is harmless (hidden, never the final name)."""
    try:
        with hook.get_managed_conn() as sftp:
            sftp.remove(path)
    except Exception:  # noqa: BLE001 - the connection may be the thing that failed
        pass
