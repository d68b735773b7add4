"""The night a task run is for, from its Airflow context: imported by the DAG builder, the tasks,
the sensor and the on-call notifier alike (it imports none of them)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
from airflow.sdk import get_current_context

from roster.config import District


def local_date(moment: dt.datetime, timezone: str) -> dt.date:
    """The calendar date of ``moment`` in ``timezone`` (right across daylight-saving changes)."""
    return pendulum.instance(moment).in_timezone(timezone).date()


def roster_date(district: District, context: Any = None) -> dt.date:
    """The night's roster date: the run's logical date in the district's time zone."""
    context = context if context is not None else get_current_context()
    moment = context.get("logical_date") or context["dag_run"].run_after
    return local_date(moment, district.timezone)
