"""``roster_watchdog``: a daily check that every live district still delivers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Param

from roster import settings
from roster.airflow import tasks
from roster.airflow.operators import python_task
from roster.config import include_root

DOC = """\
### Roster watchdog

Once a day, checks every **live** district's last delivery to Rethink Ed (the snapshot pointer under
`ROSTER_DATA_ROOT/<district>/snapshot/`) and emails the district's on-call contacts when a district
has gone more than `stale_after_hours` (default 36, or `ROSTER_WATCHDOG_HOURS`) without one.
Districts in `qa` mode or inside a blackout window are not watched. See docs/RUNBOOK.md,
"Watchdog: no delivery".
"""


def build_watchdog_dag(root: Path | None = None) -> DAG:
    root = root or include_root()
    default_hours = settings.watchdog_hours()

    with DAG(
        dag_id="roster_watchdog",
        description="Emails on-call when a live district has not delivered for too long",
        schedule="0 14 * * *",
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        tags=["roster", "rethink-ed", "watchdog"],
        doc_md=DOC,
        default_args={"owner": "roster", "retries": 2, "retry_delay": dt.timedelta(minutes=5)},
        params={
            "stale_after_hours": Param(
                default_hours, type="number", minimum=1, title="Hours without a delivery before alerting"
            ),
        },
    ) as dag:
        python_task(PythonOperator, tasks.check_deliveries, root)
    return dag
