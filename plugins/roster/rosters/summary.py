"""The Rosters view's figures, from a district's run artifacts: one summary per district and its nights.

Read from ``ROSTER_DATA_ROOT`` as ``roster status`` reads it (``roster.io.store``): the snapshot pointer
names the last delivered night, each run folder's ``qa_report.json`` (``roster.night.qa.load_report``)
holds the night's counts. What only Airflow knows (a hold waiting for review, the last failed task, a
night's run id) is passed in as ``AirflowFacts``, so this module imports neither Airflow nor FastAPI.

Only counts, reason codes, dates and run ids leave here: ``qa_report.json`` holds no student data,
and nothing else of a run folder is read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from roster.config import District
from roster.golive.watchdog import find_stale
from roster.io import store
from roster.night.qa import QaReport, load_report
from roster.night.snapshot import Delivery, last_delivery

#: The change kinds of ``qa_report.json``'s ``changes`` section that the view shows.
CHANGE_KINDS = (
    "added",
    "deactivated",
    "reactivated",
    "identity_changed",
    "state_id_changed",
    "other_changed",
    "carried",
    "dropped",
)


@dataclass(frozen=True)
class Hold:
    """A held night waiting on the Required Actions page."""

    run_id: str
    url: str


@dataclass(frozen=True)
class Failure:
    """The district's newest failed task."""

    task_id: str
    run_id: str
    error: str
    at: str | None = None
    url: str = ""


@dataclass(frozen=True)
class AirflowFacts:
    """What Airflow's database says, per district id."""

    holds: dict[str, Hold] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    #: district id -> roster date (ISO) -> the run's id
    run_ids: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Staleness:
    stale: bool
    hours_since_delivery: float | None
    message: str


@dataclass(frozen=True)
class Night:
    date: str
    outcome: str  # passed, failed or held (QaReport.outcome)
    rows_read: int
    rows_delivered: int
    rows_rejected: int
    reject_rate: float
    rejects_by_reason: dict[str, int]
    changes: dict[str, int]
    verdict: str
    #: Who answered the night's hold, and when (ISO): ``qa_report.json``'s approval or rejection.
    approved_by: str | None = None
    approved_at: str | None = None
    rejected_by: str | None = None
    rejected_at: str | None = None
    run_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DistrictSummary:
    id: str
    name: str
    mode: str
    state: str  # ok, held, failed, stale, no_data
    last_delivered: str | None
    rows_delivered: int | None
    rows_rejected: int | None
    reject_rate: float | None
    pending_hold: Hold | None
    staleness: Staleness
    last_failure: Failure | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def night_of(report: QaReport, run_id: str | None = None) -> Night:
    changes = report.changes
    kinds = {kind: int(getattr(changes, kind)) for kind in CHANGE_KINDS} if changes is not None else {}
    return Night(
        date=report.date,
        outcome=report.outcome(),
        rows_read=report.rows_read,
        rows_delivered=report.rows_delivered,
        rows_rejected=report.rows_rejected,
        reject_rate=report.reject_rate,
        rejects_by_reason=dict(report.rejects_by_reason),
        changes=kinds,
        verdict=report.verdict,
        approved_by=report.approved_by,
        approved_at=report.approved_at,
        rejected_by=report.rejected_by,
        rejected_at=report.rejected_at,
        run_id=run_id,
    )


def _reports(district_id: str) -> list[tuple[Path, QaReport]]:
    """The district's readable reports, newest night first; a folder without one (a night still
    running, or cleared) is left out."""
    found = []
    for folder in store.local_run_folders(district_id):
        try:
            found.append((folder, load_report(folder)))
        except (OSError, ValueError, TypeError, KeyError):
            continue
    return found


def nights(
    district_id: str, days: int, run_ids: dict[str, str] | None = None, today: dt.date | None = None
) -> list[Night]:
    """The nights of the last ``days`` days up to ``today`` (all stored when ``today`` is None), newest first."""
    since = (today - dt.timedelta(days=days - 1)) if today is not None else None
    out = []
    for folder, report in _reports(district_id):
        day = store.run_folder_date(folder.name)
        if since is not None and day is not None and day < since:
            continue
        out.append(night_of(report, (run_ids or {}).get(report.date)))
    return out[:days]


def _delivery(district_id: str) -> Delivery | None:
    folder = store.local_snapshot_folder(district_id)
    try:
        return last_delivery(folder) if folder is not None else None
    except (OSError, ValueError, KeyError):
        return None


def staleness(district: District, delivery: Delivery | None, now: dt.datetime, stale_after_hours: float) -> Staleness:
    """The watchdog's judgement (``roster.golive.watchdog``) and the hours since the last delivery."""
    stale = find_stale([district], {district.district_id: delivery}, now, stale_after_hours)
    hours = None
    if delivery is not None and delivery.delivered_at is not None:
        hours = round((now - delivery.delivered_at).total_seconds() / 3600, 1)
    return Staleness(stale=bool(stale), hours_since_delivery=hours, message=stale[0].message if stale else "")


def _state(
    newest: QaReport | None, newest_run: str | None, hold: Hold | None, failure: Failure | None, stale: Staleness
) -> str:
    """``held``, ``failed`` (the newest night failed QA, or its run has a failed task), ``stale``, ``ok``
    or ``no_data`` (no night yet)."""
    if hold is not None:
        return "held"
    failed_run = failure is not None and (newest is None or failure.run_id == newest_run)
    if (newest is not None and newest.outcome() == "failed") or failed_run:
        return "failed"
    if stale.stale:
        return "stale"
    return "no_data" if newest is None else "ok"


def district_summary(
    district: District, facts: AirflowFacts, now: dt.datetime, stale_after_hours: float
) -> DistrictSummary:
    """One district's row of the view."""
    district_id = district.district_id
    delivery = _delivery(district_id)
    reports = _reports(district_id)
    newest = reports[0][1] if reports else None
    delivered = None
    if delivery is not None:
        delivered = next((r for _, r in reports if r.date == delivery.roster_date.isoformat()), None)
    stale = staleness(district, delivery, now, stale_after_hours)
    hold, failure = facts.holds.get(district_id), facts.failures.get(district_id)
    return DistrictSummary(
        id=district_id,
        name=district.name,
        mode=district.mode,
        state=_state(
            newest, facts.run_ids.get(district_id, {}).get(newest.date) if newest else None, hold, failure, stale
        ),
        last_delivered=delivery.roster_date.isoformat() if delivery else None,
        rows_delivered=delivered.rows_delivered if delivered else None,
        rows_rejected=delivered.rows_rejected if delivered else None,
        reject_rate=delivered.reject_rate if delivered else None,
        pending_hold=hold,
        staleness=stale,
        last_failure=failure,
    )


__all__ = [
    "CHANGE_KINDS",
    "AirflowFacts",
    "DistrictSummary",
    "Failure",
    "Hold",
    "Night",
    "Staleness",
    "district_summary",
    "night_of",
    "nights",
    "staleness",
]
