"""What the Rosters view needs from Airflow's metadata database, read in the api-server's own session:
holds waiting on the Required Actions page, each district's newest failed task (its first error line
from the task's log, as the on-call email words it) and the run id of each night."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from roster.airflow.hold import REVIEW_TASK_ID
from roster.airflow.notifications import first_error_line
from roster.rosters.summary import AirflowFacts, Failure, Hold

#: How many of a district's newest runs are looked at for run ids.
RUNS = 120
#: ``Failure.error`` when the task's log holds no error: the task was killed, timed out or marked failed
#: by hand, or its log cannot be read from the api-server (no log file, the worker's log server down;
#: ``dag.test()`` runs tasks in-process and writes none).
NO_ERROR_IN_LOG = "no error found in the task's log (killed, timed out, marked failed, or the log is not readable here)"


def dag_id(district_id: str) -> str:
    return f"roster_{district_id}"


def run_url(base: str, district_id: str, run_id: str) -> str:
    from urllib.parse import quote

    return f"{base}/dags/{dag_id(district_id)}/runs/{quote(run_id, safe='')}"


def facts(session: Any, districts: Iterable[tuple[str, str]], base: str) -> AirflowFacts:
    """``districts`` as (district id, time zone); ``base`` the UI's root path (links are made from it)."""
    holds, failures, run_ids = {}, {}, {}
    for district_id, timezone in districts:
        run_ids[district_id] = _run_ids(session, district_id, timezone)
        hold = _pending_hold(session, district_id)
        if hold is not None:
            holds[district_id] = Hold(
                run_id=hold, url=run_url(base, district_id, hold) + f"/tasks/{REVIEW_TASK_ID}/required_actions"
            )
        failure = _last_failure(session, district_id, base)
        if failure is not None:
            failures[district_id] = failure
    return AirflowFacts(holds=holds, failures=failures, run_ids=run_ids)


def _run_ids(session: Any, district_id: str, timezone: str) -> dict[str, str]:
    """Roster date (the run's logical date in the district's time zone) -> the newest run of that night."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    from roster.airflow.context import local_date

    rows = session.execute(
        select(DagRun.run_id, DagRun.logical_date, DagRun.run_after)
        .where(DagRun.dag_id == dag_id(district_id))
        .order_by(DagRun.run_after.desc())
        .limit(RUNS)
    ).all()
    out: dict[str, str] = {}
    for run_id, logical, after in rows:
        out.setdefault(local_date(logical or after, timezone).isoformat(), run_id)
    return out


def _pending_hold(session: Any, district_id: str) -> str | None:
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    return session.execute(
        select(TaskInstance.run_id)
        .join(HITLDetail, HITLDetail.ti_id == TaskInstance.id)
        .where(
            TaskInstance.dag_id == dag_id(district_id),
            TaskInstance.task_id == REVIEW_TASK_ID,
            TaskInstance.state == TaskInstanceState.AWAITING_INPUT,
        )
        .order_by(TaskInstance.start_date.desc())
        .limit(1)
    ).scalar()


def _last_failure(session: Any, district_id: str, base: str) -> Failure | None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    ti = session.execute(
        select(TaskInstance)
        .where(TaskInstance.dag_id == dag_id(district_id), TaskInstance.state == TaskInstanceState.FAILED)
        .order_by(TaskInstance.end_date.desc().nulls_last())
        .limit(1)
    ).scalar()
    if ti is None:
        return None
    return Failure(
        task_id=ti.task_id,
        run_id=ti.run_id,
        error=error_line(ti),
        at=ti.end_date.isoformat() if ti.end_date else None,
        url=run_url(base, district_id, ti.run_id) + f"/tasks/{ti.task_id}",
    )


def error_line(ti: Any) -> str:
    """The first error line of the task's last try, from its log as the UI reads it."""
    from airflow.utils.log.log_reader import TaskLogReader

    try:
        chunks, _ = TaskLogReader().read_log_chunks(ti, ti.try_number, {"end_of_log": False})
        for message in chunks:
            if isinstance(message, tuple | list):  # some handlers yield (host, messages)
                continue
            details = getattr(message, "error_detail", None) or (getattr(message, "model_extra", None) or {}).get(
                "error_detail"
            )
            if details:
                last = details[-1] if isinstance(details, list) else details
                text = str(last.get("exc_value") or last.get("exc_type") or "")
                kind = str(last.get("exc_type") or "")
                return first_error_line(text if _ours(kind) else f"{kind}: {text}")
    except Exception:  # noqa: BLE001 - an unreadable log must not take the view down; the link still leads to it
        return "see the task's log"
    return NO_ERROR_IN_LOG


def _ours(kind: str) -> bool:
    """Whether the exception is the project's own (a ``RosterError``), whose messages carry no student data."""
    from roster.errors import RosterError

    def names(cls: type) -> set[str]:
        subs: list[type] = cls.__subclasses__()
        return {cls.__name__}.union(*(names(sub) for sub in subs))

    return kind.rsplit(".", 1)[-1] in names(RosterError)
