"""Where every district stands (``roster status``): mode, last delivered night, last QA verdict, next run,
and the go-live state: for a district in ``mode: qa`` the gate's evidence (``roster.golive.gate``:
passed QA nights of the required number, the last reconcile, ``ready`` when both are there), for a
live one switched with ``--approved-by`` who accepted it, when, and how much was missing then.

Read from the run artifacts under ``ROSTER_DATA_ROOT`` (a local folder, laid out as ``roster.io.store``
says): the snapshot pointer names the last delivered night, and the newest run folder's
``qa_report.json`` holds the last verdict. On an object-store data root (``s3://...``) those are not
read (that would need Airflow's connections): they show as ``unknown (object storage)``. The next
run is computed from the district's cron in its time zone. Nothing here imports pandas or Airflow.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from roster.config import District
from roster.io import store
from roster.night.qa import load_report
from roster.night.snapshot import last_delivery

UNKNOWN_REMOTE = "unknown (object storage)"
COLUMNS = ("district", "mode", "last_delivered", "last_qa", "next_run", "go_live")


@dataclass(frozen=True)
class DistrictStatus:
    district: str
    mode: str
    last_delivered: str
    last_qa: str
    next_run: str
    go_live: str = ""

    def cells(self) -> tuple[str, ...]:
        return (self.district, self.mode, self.last_delivered, self.last_qa, self.next_run, self.go_live)


def next_run(district: District, now: dt.datetime | None = None) -> dt.datetime:
    """The next scheduled run after ``now``, in the district's local time (never before start_date)."""
    from croniter import croniter

    tz = district.tz
    now = (now or dt.datetime.now(dt.UTC)).astimezone(tz)
    start = dt.datetime.combine(district.start_date, dt.time(0), tzinfo=tz)
    base = max(now, start - dt.timedelta(seconds=1))
    return croniter(district.schedule, base).get_next(dt.datetime).astimezone(tz)


def last_delivered(district_id: str) -> str:
    """The last delivered night from the snapshot pointer (local data root), or ``never``."""
    folder = store.local_snapshot_folder(district_id)
    try:
        delivery = last_delivery(folder) if folder is not None else None
    except (OSError, ValueError, KeyError):
        delivery = None
    return delivery.roster_date.isoformat() if delivery else "never"


def last_qa(district_id: str) -> str:
    """The newest night's QA outcome and date, e.g. ``passed (2026-11-20)``; ``none`` before the first."""
    for night in store.local_run_folders(district_id):
        try:
            report = load_report(night)
        except (OSError, ValueError, TypeError, KeyError):
            continue
        return f"{report.outcome()} ({night.name})"
    return "none"


def go_live_state(district: District) -> str:
    """``2/3 QA nights, reconcile clean (2026-11-18)`` for a district in QA; the approval of a live one."""
    if district.mode == "qa":
        from roster.golive.gate import evidence

        return evidence(district).summary()
    approval = district.go_live
    if approval is None:
        return ""
    missing = f" ({len(approval.missing)} missing then)" if approval.missing else ""
    return f"approved by {approval.approved_by} on {approval.approved_on}{missing}"


def district_status(district: District, now: dt.datetime | None = None) -> DistrictStatus:
    if store.local_district_folder(district.district_id) is None:
        delivered = qa = UNKNOWN_REMOTE
        state = UNKNOWN_REMOTE if district.mode == "qa" else go_live_state(district)
    else:
        delivered, qa = last_delivered(district.district_id), last_qa(district.district_id)
        state = go_live_state(district)
    upcoming = next_run(district, now)
    window = district.in_blackout(upcoming.date())
    return DistrictStatus(
        district=district.district_id,
        mode=district.mode,
        last_delivered=delivered,
        last_qa=qa,
        # A night inside a blackout window runs but sends nothing: say so.
        next_run=upcoming.isoformat() + (f" (blackout until {window.end})" if window else ""),
        go_live=state,
    )


def format_table(rows: list[tuple[str, ...]]) -> str:
    """Rows as left-aligned columns separated by two spaces, under a header."""
    table = [COLUMNS, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table)


__all__ = [
    "DistrictStatus",
    "district_status",
    "format_table",
    "go_live_state",
    "last_delivered",
    "last_qa",
    "next_run",
]
