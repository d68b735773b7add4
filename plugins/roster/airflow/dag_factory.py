"""One DAG per district file: ``roster_<district_id>``.

check_blackout ─┬→ apply_retention (deletes run folders older than ROSTER_RETENTION_DAYS, default 30)
                └→ wait_for_export → extract_export → validate_export → qa_gate ─┬→ serialize_roster → change_gate ─┬→ upload_roster → record_delivery
                                                                               │                                  ├→ notify_hold → review_hold ┘
                                                                               │                                  └→ yield_to_newer_night
                                                                               └→ notify_qa_failure (emails the point person, fails the run)

A night older than the one the vendor already holds (a backfill, a late re-run) is archived but not
sent (``yield_to_newer_night``), unless the run's conf says ``force_upload``. Any failed task emails
the district's on-call contacts (``OnCallNotifier``).

A night whose changes against the last delivered roster cross a threshold is held: ``review_hold``
(the standard provider's ``ApprovalOperator``) waits for a person up to ``qa.hold_timeout`` and
rejects by default; ``approve_hold`` in the run's conf delivers without waiting.

``apply_retention`` runs at the start of the night, beside the export's path, never after it: a task
that runs after every other one (trigger rule ALL_DONE) would be the run's only leaf and its success
would turn a failed night into a successful run. Beside the path it decides nothing for the night: a
failed night stays failed, and a failed retention fails the run (on-call hears of it) without holding
back the roster. Inside a blackout window it is skipped with everything else and catches up on the
first night after it.

A district whose file, cross-match tables or layout do not load gets a stand-in DAG that fails with
the error (the same line ``roster check-config`` prints) instead of vanishing, and the other districts
still load.

Tasks hand each other file names inside the night's run folder (``ROSTER_DATA_ROOT/<district>/<date>/``),
never data. Parsing this module imports no pandas or pandera: the heavy work is imported inside tasks.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import textwrap
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, CronTriggerTimetable, Param, TriggerRule, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from roster.airflow.oncall import OnCallNotifier
from roster.airflow.sensors import ExportSensor
from roster.airflow.failing import fail_fast
from roster.config import District, district_files, include_root, load_district, resolve
from roster.errors import ConfigError

log = logging.getLogger("roster")


TAGS = ["roster", "rethink-ed"]


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def transfer_retry_args() -> dict[str, Any]:
    """Network tasks retry with exponential backoff; tests and operators can tune it by env."""
    return {
        "retries": _env_int("ROSTER_TRANSFER_RETRIES", 3),
        "retry_delay": dt.timedelta(seconds=_env_int("ROSTER_RETRY_DELAY_SECONDS", 60)),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=30),
    }


def local_date(moment: dt.datetime, timezone: str) -> dt.date:
    """The calendar date of ``moment`` in ``timezone`` (right across daylight-saving changes)."""
    return pendulum.instance(moment).in_timezone(timezone).date()


def roster_date(district: District, context: Any = None) -> dt.date:
    """The night's roster date: the run's logical date in the district's time zone."""
    context = context if context is not None else get_current_context()
    moment = context.get("logical_date") or context["dag_run"].run_after
    return local_date(moment, district.timezone)


def _doc(district: District) -> str:
    c = district.contacts
    return textwrap.dedent(
        f"""\
        ### Nightly roster: {district.name} (`{district.district_id}`)

        Every night at `{district.schedule}` ({district.timezone}) this DAG reads the district's SIS export,
        checks every row against the cross-match tables in `{district.crossmatch}`, and uploads the
        pipe-delimited roster to Rethink Ed over SFTP (connection `{district.destination.conn_id}`,
        folder `{district.remote_dir}`, mode **{district.mode}**).

        * **Export expected at:** `{district.source.path}` (under the include root unless a URL)
        * **QA:** at most {district.qa.max_reject_rate:.1%} of rows may be rejected.
        * **Artifacts:** `ROSTER_DATA_ROOT/{district.district_id}/<roster date>/`: `qa_report.json`,
          `rejects.csv` (row numbers and State Test Numbers only), the export as read, the roster file.

        **When a run fails**
        * `notify_qa_failure` failed: the export did not pass QA. Nothing was sent; the point person
          ({", ".join(c.point_person)}) has the email with what to fix. Re-run the night once fixed.
        * `extract_export` failed: the export was missing or unreadable; the log names the path.
        * `validate_export` failed: the export or the district's configuration is unreadable; the log's
          error line names the file, line or key.
        * `upload_roster` failed: SFTP trouble. Authentication and host-key errors fail at once (check
          the connection); network errors were retried with backoff.
        * `apply_retention` failed: old run folders could not be deleted (the log says which); the
          roster itself was not affected. Run folders older than `ROSTER_RETENTION_DAYS` days (default 30)
          are deleted at the start of every night.
        """
    )


def build_dag(district: District, root: Path) -> DAG:
    """The nightly DAG for one district."""
    district_id = district.district_id

    with DAG(
        dag_id=f"roster_{district_id}",
        description=f"Nightly Rethink Ed roster for {district.name}",
        schedule=CronTriggerTimetable(district.schedule, timezone=district.timezone),
        start_date=pendulum.datetime(
            district.start_date.year, district.start_date.month, district.start_date.day, tz=district.timezone
        ),
        catchup=False,
        max_active_runs=1,
        tags=[*TAGS, district_id, f"mode:{district.mode}"],
        doc_md=_doc(district),
        default_args={"owner": "roster", "retries": 0, "on_failure_callback": OnCallNotifier(district, root)},
        params={
            "approve_hold": Param(
                False, type="boolean", title="Approve a held roster",
                description="Deliver even when the changes cross a threshold (a planned change such as a new school year).",
            ),
            "force_upload": Param(
                False, type="boolean", title="Send even if a newer night was delivered",
                description="Deliver this night even though the vendor already holds a newer roster (a backfill that must win).",
            ),
        },
    ) as dag:

        @task.short_circuit(ignore_downstream_trigger_rules=True)
        def check_blackout() -> bool:
            """Skip the whole night, successfully, inside a blackout window (summer pause)."""
            from roster.airflow import steps

            reason = steps.blackout_reason(district, roster_date(district))
            if reason:
                log.warning("BLACKOUT: %s", reason)
                return False
            return True

        wait_for_export = ExportSensor(
            task_id="wait_for_export",
            district=district,
            root=root,
            poke_interval=_env_int("ROSTER_SENSOR_POKE_SECONDS", 300),
            doc_md=f"Waits up to `source.wait_for` ({district.source.wait_for}) for tonight's export, without holding a worker slot.",
        )

        @task(**transfer_retry_args())
        @fail_fast
        def extract_export() -> str:
            """Copy tonight's export into the run folder; its file name there."""
            from roster.airflow import steps

            return steps.extract(district, root, roster_date(district))

        @task
        @fail_fast
        def validate_export(export_name: str) -> dict[str, Any]:
            """Check every row; write qa_report.json and rejects.csv; the verdict in counts."""
            from roster.airflow import steps

            return steps.validate(district, root, roster_date(district), export_name)

        @task.branch
        def qa_gate(verdict: dict[str, Any]) -> str:
            """Serialize when QA passed; otherwise tell the point person."""
            return "serialize_roster" if verdict["passed"] else "notify_qa_failure"

        @task
        @fail_fast
        def serialize_roster(export_name: str) -> dict[str, Any]:
            """Write the vendor's file (absent students carried as inactive) and diff it with the last delivery."""
            from roster.airflow import steps

            return steps.serialize(district, root, roster_date(district), export_name)

        @task.branch
        def change_gate(serialized: dict[str, Any]) -> str:
            """Deliver, unless a newer night was delivered or the changes cross a threshold (then hold)."""
            from roster.airflow import steps

            params = get_current_context()["params"]
            newer = steps.newer_delivery(district, roster_date(district))
            if newer and not params.get("force_upload"):
                return "yield_to_newer_night"
            if newer:
                log.warning("force_upload: sending this night although the vendor holds the newer night %s", newer)
            if not serialized["held"]:
                return "upload_roster"
            if params.get("approve_hold"):
                log.warning("held night approved in advance by approve_hold: %s", "; ".join(serialized["hold_reasons"]))
                return "upload_roster"
            return "notify_hold"

        @task
        def yield_to_newer_night() -> str:
            """Archive this night without sending it: the vendor already holds a newer roster."""
            from roster.airflow import steps

            day = roster_date(district)
            newer = steps.newer_delivery(district, day)
            return steps.yield_to_newer(district, day, newer) if newer else "a newer night was delivered meanwhile"

        @task(**transfer_retry_args())
        @fail_fast
        def notify_hold() -> None:
            """Email point person, coordinator and on-call the changes and how to approve or reject."""
            from roster.airflow import steps

            context = get_current_context()
            reasons = steps.notify_hold(district, root, roster_date(district), context["run_id"])
            log.warning("HOLD: %s; waiting for a decision in review_hold", reasons)

        review_hold = ApprovalOperator(
            task_id="review_hold",
            subject=f"Roster {district.district_id}: approve the held roster?",
            body=(
                "Tonight's roster crosses a change threshold (see the hold email and this run's qa_report.json). "
                "Approve to deliver it, Reject to send nothing."
            ),
            defaults=[ApprovalOperator.REJECT],
            fail_on_reject=True,
            response_timeout=district.qa.hold_timeout,
            doc_md="Waits for a person to approve or reject a held roster; rejects when `qa.hold_timeout` passes.",
        )

        @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, **transfer_retry_args())
        @fail_fast
        def upload_roster(filename: str) -> dict[str, Any]:
            """Upload atomically over SFTP to the district's folder."""
            from roster.airflow import steps

            return steps.upload(district, roster_date(district), filename)

        @task
        @fail_fast
        def record_delivery(delivered: dict[str, Any]) -> dict[str, Any]:
            """Make the delivered roster the baseline of the next night's diff."""
            from roster.airflow import steps

            return steps.record_delivery(district, root, roster_date(district), delivered)

        @task(**transfer_retry_args())
        @fail_fast
        def notify_qa_failure() -> None:
            """Email the point person what to fix, then fail the run: nothing was sent."""
            from roster.airflow import steps

            verdict = steps.notify_qa_failure(district, root, roster_date(district))
            raise AirflowFailException(f"QA failed, nothing sent: {verdict}")

        @task
        @fail_fast
        def apply_retention() -> dict[str, Any]:
            """Delete this district's run folders older than ROSTER_RETENTION_DAYS days (default 30); say which."""
            from roster.airflow import steps

            return steps.apply_retention(district, roster_date(district))

        export_name = extract_export()
        blackout = check_blackout()
        blackout >> wait_for_export >> export_name
        blackout >> apply_retention()
        verdict = validate_export(export_name)
        gate = qa_gate(verdict)
        serialized = serialize_roster(export_name)
        gate >> [serialized, notify_qa_failure()]
        changes = change_gate(serialized)
        delivered = upload_roster(serialized["filename"])
        hold = notify_hold()
        changes >> [delivered, hold, yield_to_newer_night()]
        hold >> review_hold >> delivered
        record_delivery(delivered)
    return dag


def dag_id_for(path: Path) -> str:
    """``roster_<file stem>``, with characters a DAG id cannot hold replaced (only for stand-ins of bad files)."""
    return "roster_" + re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)


def broken_district_dag(path: Path, error: str) -> DAG:
    """A stand-in for a district that does not load (its file, tables or layout): it shows the error
    instead of vanishing, is never scheduled, and its one task fails with the error."""
    with DAG(
        dag_id=dag_id_for(path),
        description=f"BROKEN district configuration: {error}"[:200],
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        tags=[*TAGS, "config-error"],
        doc_md=f"### District configuration does not load\n\n`{error}`\n\nFix the file named and run `roster check-config`.",
    ) as dag:

        @task
        def config_error() -> None:
            """Fail with the district file's error."""
            raise AirflowFailException(error)

        config_error()
    return dag


def check_district(root: Path, district: District, layouts: dict[str, Any] | None = None) -> None:
    """What ``roster check-config`` checks besides the district file: its cross-match tables and layout.

    Small files read without pandas, so parsing stays cheap; ``layouts`` caches layouts by name
    across districts. A ``ConfigError`` names the file and the line or key.
    """
    from roster.config import load_layout
    from roster.crossmatch import load_crossmatch

    load_crossmatch(root, district)
    name = district.destination.layout
    if layouts is None or name not in layouts:
        layout = load_layout(root, name)
        if layouts is not None:
            layouts[name] = layout


def build_all(root: Path | None = None, only_dag_id: str | None = None) -> dict[str, DAG]:
    """Every district's DAG by dag id; a district that does not load gives a stand-in DAG and a logged error.

    A district loads when its file, its cross-match tables and its layout do (as ``roster
    check-config`` has it), and its DAG builds.
    """
    root = root or include_root()
    dags: dict[str, DAG] = {}
    layouts: dict[str, Any] = {}
    for path in district_files(root):
        dag_id = dag_id_for(path)
        if only_dag_id and only_dag_id != dag_id:
            continue
        try:
            district = load_district(path)
            check_district(root, district, layouts)
            dags[dag_id] = build_dag(district, root)
        except ConfigError as exc:
            log.error("district not loaded: %s", exc)
            dags.setdefault(dag_id, broken_district_dag(path, str(exc)))
        except Exception as exc:  # noqa: BLE001 - one district's surprise must not hide the others
            error = f"{path}: the DAG could not be built ({type(exc).__name__}: {first_line(exc)})"
            log.error("district not loaded: %s", error)
            dags.setdefault(dag_id, broken_district_dag(path, error))
    return dags


def first_line(exc: BaseException) -> str:
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), "")[:300]


__all__ = ["build_all", "build_dag", "resolve"]
