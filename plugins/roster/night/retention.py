"""How long a night's run artifacts are kept: the rule (``expired``), and applying it (``remove_expired``).

A night's run folder ``ROSTER_DATA_ROOT/<district>/<YYYY-MM-DD>/`` holds the run's copy of the SIS
export and the roster file (student names and dates of birth), so it is deleted once it is older than
``ROSTER_RETENTION_DAYS`` days (default 30). Age is counted from the night being run (its roster
date), so a run is deterministic and a re-run of an old night never deletes newer nights.

Only folders named exactly like a roster date are candidates: the district's ``snapshot`` folder (the
baseline of the next night's diff; its history is bounded by ``roster.night.snapshot.KEEP``) and its
``go-live`` folder are never touched, nor is anything else a person put there.

``remove_expired`` lists the district's folders through ``roster.io.store``, asks ``expired`` which to
delete, and deletes them, on a local data root or an object store alike.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from roster.io import store
from roster.io.store import run_folder_date

log = logging.getLogger("roster")


def expired(names: Iterable[str], today: dt.date, keep_days: int) -> list[str]:
    """The run folders among ``names`` older than ``keep_days`` days on ``today``, oldest first.

    A folder dated ``today - keep_days`` is exactly ``keep_days`` old and is kept; one day older goes.
    Names that are not roster dates (``snapshot``, ``go-live``, anything else) are never returned.
    """
    if keep_days < 1:
        raise ValueError(f"keep_days must be at least 1, not {keep_days}")
    cutoff = today - dt.timedelta(days=keep_days)
    dated = {name: day for name in names if (day := run_folder_date(name)) is not None}
    return sorted((name for name, day in dated.items() if day < cutoff), key=dated.__getitem__)


def summary(district_id: str, removed: list[str], keep_days: int, today: dt.date) -> str:
    """One log line saying what was removed (roster dates only: no student data)."""
    if not removed:
        return f"retention: no run folder of {district_id} older than {keep_days} days on {today}; nothing removed"
    return (
        f"retention: removed {len(removed)} run folder(s) of {district_id} older than {keep_days} days on {today}: "
        + ", ".join(removed)
    )


def remove_expired(district_id: str, today: dt.date, keep_days: int) -> list[str]:
    """Delete the district's run folders older than ``keep_days`` days on ``today``; the names removed."""
    removed: list[str] = []
    try:
        for name in expired(store.district_folders(district_id), today, keep_days):
            store.remove_folder(district_id, name)
            removed.append(name)
    finally:
        # Said even when a deletion fails half-way: what is gone is gone.
        log.info("%s", summary(district_id, removed, keep_days, today))
    return removed


__all__ = ["expired", "remove_expired", "summary"]
