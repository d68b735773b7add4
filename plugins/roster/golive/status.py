"""Where every district stands (``roster status``): mode, last delivered night, last QA verdict, next run.

Read from the run artifacts under ``ROSTER_DATA_ROOT`` (a local folder): the snapshot pointer
``<district>/snapshot/snapshot.json`` names the last delivered night, and the newest
``<district>/<YYYY-MM-DD>/qa_report.json`` holds the last verdict. On an object-store data root
(``s3://...``) those are not read (that would need Airflow's connections): they show as
``unknown (object storage)``. The next run is computed from the district's cron in its time zone.
Nothing here imports pandas or Airflow.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

from roster.config import District

SNAPSHOT_POINTER = ("snapshot", "snapshot.json")
QA_REPORT = "qa_report.json"
UNKNOWN_REMOTE = "unknown (object storage)"
_NIGHT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
COLUMNS = ("district", "mode", "last_delivered", "last_qa", "next_run")


@dataclass(frozen=True)
class DistrictStatus:
    district: str
    mode: str
    last_delivered: str
    last_qa: str
    next_run: str

    def cells(self) -> tuple[str, ...]:
        return (self.district, self.mode, self.last_delivered, self.last_qa, self.next_run)


def next_run(district: District, now: dt.datetime | None = None) -> dt.datetime:
    """The next scheduled run after ``now``, in the district's local time (never before start_date)."""
    from croniter import croniter

    tz = district.tz
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(tz)
    start = dt.datetime.combine(district.start_date, dt.time(0), tzinfo=tz)
    base = max(now, start - dt.timedelta(seconds=1))
    return croniter(district.schedule, base).get_next(dt.datetime).astimezone(tz)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def last_delivered(folder: Path) -> str:
    """The last delivered night from the snapshot pointer, or ``never``."""
    pointer = _read_json(folder.joinpath(*SNAPSHOT_POINTER))
    if not pointer or "date" not in pointer:
        return "never"
    return str(pointer["date"])


def verdict(report: dict) -> str:
    """``passed``, ``failed`` or ``held`` (a held roster not delivered, or waiting for review)."""
    if not report.get("passed"):
        return "failed"
    if report.get("held") and not report.get("rows_delivered"):
        return "held"
    return "passed"


def last_qa(folder: Path) -> str:
    """The newest night's QA verdict and date, e.g. ``passed (2026-11-20)``; ``none`` before the first."""
    nights = sorted((p for p in folder.iterdir() if p.is_dir() and _NIGHT.match(p.name)), reverse=True) if folder.is_dir() else []
    for night in nights:
        report = _read_json(night / QA_REPORT)
        if report is not None:
            return f"{verdict(report)} ({night.name})"
    return "none"


def district_status(district: District, data_root: str, *, remote: bool, now: dt.datetime | None = None) -> DistrictStatus:
    if remote:
        delivered = qa = UNKNOWN_REMOTE
    else:
        folder = Path(data_root.removeprefix("file://")) / district.district_id
        delivered, qa = last_delivered(folder), last_qa(folder)
    upcoming = next_run(district, now)
    window = district.in_blackout(upcoming.date())
    return DistrictStatus(
        district=district.district_id,
        mode=district.mode,
        last_delivered=delivered,
        last_qa=qa,
        # A night inside a blackout window runs but sends nothing: say so.
        next_run=upcoming.isoformat() + (f" (blackout until {window.end})" if window else ""),
    )


def format_table(rows: list[tuple[str, ...]]) -> str:
    """Rows as left-aligned columns separated by two spaces, under a header."""
    table = [COLUMNS, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in table)


__all__ = ["DistrictStatus", "district_status", "format_table", "last_delivered", "last_qa", "next_run", "verdict"]
