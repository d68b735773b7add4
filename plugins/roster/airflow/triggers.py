"""The triggerer's side of ``wait_for_export``: look for tonight's export until it is there or the
night's ``source.wait_for`` has passed, without a worker slot.

The triggerer imports this module by its class path (``plugins/`` is on its ``sys.path``), so it
imports nothing heavy at the top. A trigger carries only where the export is expected, whether a
package folder counts, the deadline and the polling interval: a path, never a row. Its event says
``found``, ``timeout`` or ``error`` (with one line naming the connection, as the sensor's own poke
would raise it); the sensor turns each into the same outcome as the reschedule-mode sensor.

Three kinds of location, as ``ExportSensor`` hands them over: ``sftp://<conn_id>/<path>`` (through the
SFTP provider's ``SFTPHookAsync``, host key pinned from the connection's ``host_key``), an fsspec URL
(``s3://bucket/key``, ``memory://...``) and a local path. "There" means what ``export_present`` means:
the file exists, or with ``package`` a folder holding ``manifest.csv``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

FOUND, TIMEOUT, ERROR = "found", "timeout", "error"
#: ``error`` events: ``fatal`` (credentials, host key, permissions: a ``TransferError``) or ``network``.
FATAL, NETWORK = "fatal", "network"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class ExportTrigger(BaseTrigger):
    """Fires once: the export at ``source`` is there, ``deadline`` (ISO 8601, UTC) passed, or a fault."""

    def __init__(self, *, source: str, package: bool, deadline: str, poke_interval: float) -> None:
        super().__init__()
        self.source = source
        self.package = package
        self.deadline = deadline
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "source": self.source,
                "package": self.package,
                "deadline": self.deadline,
                "poke_interval": self.poke_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = dt.datetime.fromisoformat(self.deadline)
        while True:
            try:
                present = await export_present(self.source, package=self.package)
            except _Fault as fault:
                yield TriggerEvent({"status": ERROR, "kind": fault.kind, "message": str(fault), "source": self.source})
                return
            if present:
                yield TriggerEvent({"status": FOUND, "source": self.source})
                return
            left = (deadline - dt.datetime.now(dt.UTC)).total_seconds()
            if left <= 0:
                yield TriggerEvent({"status": TIMEOUT, "source": self.source})
                return
            self.log.info(
                "export not there yet at %s; looking again in %.0fs", self.source, min(self.poke_interval, left)
            )
            await asyncio.sleep(min(self.poke_interval, left))


class _Fault(Exception):
    """A look that failed: ``kind`` is ``fatal`` or ``network``; the message is one line without data."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


async def export_present(source: str, *, package: bool) -> bool:
    """Whether the export is at ``source`` (blocking file systems are asked from a thread)."""
    match = _SCHEME.match(source)
    if match is None:
        from pathlib import Path

        from roster.io.export_copy import local_export_present

        return await asyncio.to_thread(local_export_present, Path(source), package=package)
    if match.group(1).lower() == "sftp":
        return await _sftp_present(source)
    return await asyncio.to_thread(_fsspec_present, source, package)


def _fsspec_present(url: str, package: bool) -> bool:
    import fsspec  # type: ignore[import-untyped]

    from roster.io.export_copy import MANIFEST

    try:
        fs, path = fsspec.core.url_to_fs(url)
        # Object stores cache listings: a look must see what the SIS uploaded since the last one.
        fs.invalidate_cache()
        return bool(fs.isfile(path) or (package and fs.isfile(f"{path.rstrip('/')}/{MANIFEST}")))
    except (ValueError, ImportError) as exc:
        raise _Fault(FATAL, f"{url}: cannot be read ({type(exc).__name__}: {exc})") from None
    except PermissionError as exc:
        raise _Fault(FATAL, f"{url}: permission denied ({exc})") from None
    except OSError as exc:
        raise _Fault(NETWORK, f"looking for {url}: {type(exc).__name__}: {exc}") from None


async def _sftp_present(url: str) -> bool:
    import asyncssh
    from airflow.providers.common.compat.connection import get_async_connection
    from airflow.providers.sftp.hooks.sftp import SFTPHookAsync

    from roster.airflow.hooks.sftp import parse_sftp_url
    from roster.errors import TransferError

    try:
        conn_id, remote = parse_sftp_url(url)
    except TransferError as exc:
        raise _Fault(FATAL, str(exc)) from None
    try:
        conn = await get_async_connection(conn_id)
    except Exception as exc:  # noqa: BLE001 - the SDK raises its own not-found types; all mean the same to a user
        raise _Fault(FATAL, f"Airflow connection {conn_id!r} is not defined ({type(exc).__name__})") from None
    if not (conn.extra_dejson or {}).get("host_key"):
        raise _Fault(
            FATAL,
            f"Airflow connection {conn_id!r} has no pinned host_key in its extra; "
            "add the server's public host key (ssh-keyscan) so the server can be verified",
        )
    what = f"looking for {url}: the SFTP server of connection {conn_id!r} at {conn.host}:{conn.port or 22}"
    try:
        async with SFTPHookAsync(sftp_conn_id=conn_id, no_host_key_check=False).get_managed_conn() as sftp:
            await sftp.stat(remote)
            return True
    except asyncssh.SFTPNoSuchFile:
        return False
    except (asyncssh.HostKeyNotVerifiable, asyncssh.PermissionDenied, asyncssh.SFTPPermissionDenied) as exc:
        raise _Fault(FATAL, f"{what} refused ({type(exc).__name__}: {_line(exc)})") from None
    except (OSError, asyncssh.Error) as exc:
        raise _Fault(NETWORK, f"{what} failed ({type(exc).__name__}: {_line(exc)})") from None


def _line(exc: BaseException) -> str:
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), "")[:200]
