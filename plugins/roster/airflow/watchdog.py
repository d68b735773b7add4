"""``roster_watchdog``: a daily check that every live district still delivers."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, get_current_context, task

from roster import settings
from roster.config import include_root

log = logging.getLogger("roster")

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
            "stale_after_hours": Param(default_hours, type="number", minimum=1, title="Hours without a delivery before alerting"),
        },
    ) as dag:

        @task
        def check_deliveries() -> list[dict[str, Any]]:
            """Find stale live districts and email their on-call contacts; the findings (ids only)."""
            from dataclasses import asdict

            from roster.airflow.hooks import smtp as mail

            from roster.io import store as storage
            from roster.config import district_files, load_district
            from roster.notify.emails import watchdog_alert
            from roster.errors import ConfigError
            from roster.night.snapshot import last_delivery
            from roster.golive.watchdog import find_stale

            hours = float(get_current_context()["params"]["stale_after_hours"])
            districts = []
            for path in district_files(root):
                try:
                    districts.append(load_district(path))
                except ConfigError as exc:
                    log.error("not watched, district file does not load: %s", exc)
            deliveries = {}
            for district in districts:
                with storage.snapshot_workspace(district.district_id) as state:
                    deliveries[district.district_id] = last_delivery(state)
            now = dt.datetime.now(dt.timezone.utc)
            stale = find_stale(districts, deliveries, now, hours)
            by_id = {d.district_id: d for d in districts}
            groups: dict[tuple[str, tuple[str, ...]], list] = {}
            for finding in stale:
                log.warning("STALE: %s", finding.message)
                district = by_id[finding.district_id]
                if district.contacts.oncall:
                    groups.setdefault((district.smtp_conn_id, tuple(district.contacts.oncall)), []).append(finding)
            for (conn_id, oncall), findings in groups.items():
                mail.send(conn_id, watchdog_alert(root, findings, hours, now.isoformat(timespec="minutes"), list(oncall)))
            log.info("watched %d live district(s); %d stale", sum(d.mode == "live" for d in districts), len(stale))
            return [asdict(s) for s in stale]

        check_deliveries()
    return dag
