"""``review_hold``: the standard provider's ``ApprovalOperator`` asking with the night's own context.

The subject and body are written when the task runs, not when the DAG is parsed: they name the
night's roster date (a manual run's trigger time is not it) and come from the night's artifacts
(``qa_report.json``'s changes and ``changes.csv``), so the person on the Required Actions page sees
the counts, the rates against the thresholds, the hold reasons and the first State Test Numbers
concerned, never a name or a date of birth. Who answered, and when, goes into the night's
``qa_report.json``: an approval as ``approved_by``/``approved_at`` by ``upload_roster`` once the file
is delivered (from the task's return value, the provider's payload); a rejection as
``rejected_by``/``rejected_at`` by the task itself before it fails, since nothing runs after it then.
A rejection by ``qa.hold_timeout`` (nobody answered in time) is recorded as rejected by ``qa.hold_timeout``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

from roster.airflow.context import roster_date
from roster.config import District
from roster.io import store

REVIEW_TASK_ID = "review_hold"
#: ``rejected_by`` of a hold that nobody answered before ``qa.hold_timeout``.
TIMEOUT_REVIEWER = "qa.hold_timeout"


def rosters_url(district_id: str, day: dt.date) -> str:
    """The night's row on the district's page of the Rosters view (``#night-<date>``, the row's id), when
    Airflow's ``[api] base_url`` is set (else empty)."""
    from airflow.configuration import conf

    base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    return f"{base}/rosters/{district_id}#night-{day.isoformat()}" if base else ""


class HoldReviewOperator(ApprovalOperator):
    """Approve or reject a held night, asked with the night's roster date, counts and State Test Numbers."""

    def __init__(self, *, district: District, root: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.district = district
        self.root = root

    def execute(self, context: Any) -> Any:
        from roster.io import artifacts, report_csv
        from roster.night.qa import load_report
        from roster.notify.emails import hold_review

        day = roster_date(self.district, context)
        with store.run_workspace(self.district.district_id, day) as folder:
            report = load_report(folder)
            changes = report_csv.read_rows(folder / artifacts.CHANGES)
        self.subject, self.body = hold_review(
            self.root, self.district, report, changes, rosters_url(self.district.district_id, day)
        )
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if "error" not in event and self.REJECT in (event.get("chosen_options") or []):
            self._record_rejection(context, event)
        return super().execute_complete(context, event)

    def _record_rejection(self, context: Any, event: dict[str, Any]) -> None:
        from roster.night.pipeline import mark_rejected

        by, at = answered(event)
        if event.get("timedout") or by is None:
            by = TIMEOUT_REVIEWER
        day = roster_date(self.district, context)
        with store.run_workspace(self.district.district_id, day) as folder:
            mark_rejected(folder, rejected_by=by, rejected_at=at)
        self.log.warning("held roster of %s rejected by %s at %s: nothing is delivered", day, by, at)


def decision(context: Any) -> tuple[str | None, str | None]:
    """Who approved tonight's hold and when (ISO), from ``review_hold``'s result; (None, None) without a hold."""
    answer = context["ti"].xcom_pull(task_ids=REVIEW_TASK_ID)
    if not answer:
        return None, None
    by, at = answered(answer)
    return by or "a reviewer", at


def answered(answer: dict[str, Any]) -> tuple[str | None, str | None]:
    """Who answered (name, else id; None for nobody) and when (ISO), from a HITL response payload."""
    user = answer.get("responded_by_user") or {}
    name = (user.get("name") or user.get("id")) if isinstance(user, dict) else str(user)
    at: Any = answer.get("responded_at")
    when = at.isoformat() if hasattr(at, "isoformat") else (str(at) if at else None)
    return (str(name) if name else None), when
