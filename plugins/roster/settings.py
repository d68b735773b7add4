"""Every ``ROSTER_*`` environment variable the project reads, in one place, with its default.

Each setting is read when asked for (never at import), so a test or a task can change the
environment first. A value that is set but wrong is a ``ConfigError`` naming the variable.

| variable | default | what it sets |
|---|---|---|
| ``ROSTER_INCLUDE_DIR`` | the project's ``include/`` | district files, tables, layouts, templates |
| ``ROSTER_DATA_ROOT`` | ``$AIRFLOW_HOME/roster-data`` | run folders and snapshots (a path or an fsspec URL) |
| ``ROSTER_RETENTION_DAYS`` | 30 | days a night's run folder is kept |
| ``ROSTER_TRANSFER_RETRIES`` | 3 | retries of a network task (SFTP, SMTP) |
| ``ROSTER_RETRY_DELAY_SECONDS`` | 60 | first retry delay; it doubles each retry, up to 30 minutes |
| ``ROSTER_SENSOR_POKE_SECONDS`` | 300 | how often ``wait_for_export`` looks for a late export |
| ``ROSTER_WATCHDOG_HOURS`` | 36 | hours without a delivery before ``roster_watchdog`` alerts |
| ``ROSTER_MAIL_FROM`` | ``roster-pipeline@localhost`` | the sender when the SMTP connection names none |
"""

from __future__ import annotations

import os
from pathlib import Path

from roster.errors import ConfigError

DEFAULT_RETENTION_DAYS = 30
DEFAULT_WATCHDOG_HOURS = 36.0
DEFAULT_MAIL_FROM = "roster-pipeline@localhost"


def include_root(override: str | os.PathLike[str] | None = None) -> Path:
    """The include root: ``--include-dir``, else ``ROSTER_INCLUDE_DIR``, else the project's ``include/``."""
    if override:
        return Path(override).resolve()
    env = os.environ.get("ROSTER_INCLUDE_DIR")
    if env:
        return Path(env).resolve()
    beside_package = Path(__file__).resolve().parents[2] / "include"
    return beside_package if beside_package.is_dir() else Path("include").resolve()


def data_root() -> str:
    """``ROSTER_DATA_ROOT``, else ``$AIRFLOW_HOME/roster-data``: a local path or an fsspec URL."""
    configured = os.environ.get("ROSTER_DATA_ROOT")
    if configured:
        return configured
    airflow_home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return os.path.join(airflow_home, "roster-data")


def _number(name: str, default: float, kind: type[int] | type[float], minimum: float, unit: str) -> float:
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        whole = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name}={raw!r} is not {whole} of {unit} (default {default:g})") from None
    if value < minimum:
        least = unit.removesuffix("s") if minimum == 1 else unit
        raise ConfigError(f"{name}={raw!r}: must be at least {minimum:g} {least} (default {default:g})")
    return value


def retention_days() -> int:
    """``ROSTER_RETENTION_DAYS``: whole days a run folder is kept, at least 1."""
    return int(_number("ROSTER_RETENTION_DAYS", DEFAULT_RETENTION_DAYS, int, 1, "days"))


def transfer_retries() -> int:
    """``ROSTER_TRANSFER_RETRIES``: retries of a network task."""
    return int(_number("ROSTER_TRANSFER_RETRIES", 3, int, 0, "retries"))


def retry_delay_seconds() -> int:
    """``ROSTER_RETRY_DELAY_SECONDS``: the first retry's delay."""
    return int(_number("ROSTER_RETRY_DELAY_SECONDS", 60, int, 0, "seconds"))


def sensor_poke_seconds() -> int:
    """``ROSTER_SENSOR_POKE_SECONDS``: how often a late export is looked for."""
    return int(_number("ROSTER_SENSOR_POKE_SECONDS", 300, int, 1, "seconds"))


def watchdog_hours() -> float:
    """``ROSTER_WATCHDOG_HOURS``: hours without a delivery before the watchdog alerts."""
    return float(_number("ROSTER_WATCHDOG_HOURS", DEFAULT_WATCHDOG_HOURS, float, 1, "hours"))


def mail_from() -> str:
    """``ROSTER_MAIL_FROM``: the sender when the SMTP connection names none."""
    return os.environ.get("ROSTER_MAIL_FROM") or DEFAULT_MAIL_FROM
