"""One DAG per district file: ``roster_<district_id>``.

check_blackout ─┬→ apply_retention (deletes run folders older than ROSTER_RETENTION_DAYS, default 30)
                └→ wait_for_export → extract_export → build_roster ─┬→ upload_roster → notify_summary
                                                                     ├→ notify_hold → review_hold ┘
                                                                     ├→ yield_to_newer_night
                                                                     └→ notify_qa_failure (emails the point person, fails the run)

``build_roster`` checks the night and, when QA passes, writes the roster file and its diff, then
branches; ``upload_roster`` delivers the file and records it as the next night's baseline. Each is
one task process: a night is a handful of processes, each starting Python and Airflow, and at fleet
scale (hundreds of districts) those starts, not the rows, are the cost (docs/SCALE.md).

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

The tasks are classic operators (``PythonOperator`` and its branch and short-circuit kinds) running
``roster.airflow.tasks``' functions bound to the district, not TaskFlow ``@task``s: every parse builds
11 tasks per district, and classic operators are the cheaper to build.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.standard.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
)
from airflow.sdk import DAG, CronTriggerTimetable, Param, TriggerRule

from roster import settings
from roster.airflow import tasks
from roster.airflow.assets import delivery_asset
from roster.airflow.hold import REVIEW_TASK_ID, HoldReviewOperator
from roster.airflow.notifications import OnCallNotifier
from roster.airflow.operators import python_task
from roster.airflow.sensors import ExportSensor
from roster.config import District, Layout, district_files, include_root, load_district
from roster.config.crossmatch import TableRow
from roster.config.crossmatch_source import TableFile
from roster.errors import ConfigError

log = logging.getLogger("roster")


TAGS = ["roster", "rethink-ed"]


def transfer_retry_args() -> dict[str, Any]:
    """Network tasks retry with exponential backoff; tests and operators can tune it by env."""
    return {
        "retries": settings.transfer_retries(),
        "retry_delay": dt.timedelta(seconds=settings.retry_delay_seconds()),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=30),
    }


_DOC = textwrap.dedent(
    """\
    ### Nightly roster: {d.name} (`{d.district_id}`)

    Every night at `{d.schedule}` ({d.timezone}) this DAG reads the district's SIS export,
    checks every row against the cross-match tables in `{d.crossmatch}`, and uploads the
    pipe-delimited roster to Rethink Ed over SFTP (connection `{d.destination.conn_id}`,
    folder `{d.remote_dir}`, mode **{d.mode}**).

    * **Export expected at:** `{d.source.path}` (under the include root unless a URL)
    * **QA:** at most {d.qa.max_reject_rate:.1%} of rows may be rejected.
    * **Artifacts:** `ROSTER_DATA_ROOT/{d.district_id}/<roster date>/`: `qa_report.json`,
      `rejects.csv` (row numbers and State Test Numbers only), the export as read, the roster file.

    **When a run fails**
    * `notify_qa_failure` failed: the export did not pass QA. Nothing was sent; the point person
      ({point_person}) has the email with what to fix. Re-run the night once fixed.
    * `extract_export` failed: the export (or a remote cross-match table, copied with it) was missing or
      unreadable; the log names the path or URL.
    * `build_roster` failed: the export or the district's configuration is unreadable; the log's
      error line names the file, line or key.
    * `upload_roster` failed: SFTP trouble, or the delivered roster could not be recorded as the
      next night's baseline (the log says which). Authentication and host-key errors fail at once
      (check the connection); network errors were retried with backoff.
    * `apply_retention` failed: old run folders could not be deleted (the log says which); the
      roster itself was not affected. Run folders older than `ROSTER_RETENTION_DAYS` days (default 30)
      are deleted at the start of every night.
    """
)


def _doc(district: District) -> str:
    """The DAG's page in the UI: what it does, and what to do when a run fails."""
    return _DOC.format(d=district, point_person=", ".join(district.contacts.point_person))


def _run_params() -> dict[str, Param]:
    """The run parameters (the trigger form, ``airflow dags trigger -c``), new objects for each DAG."""
    return {
        "approve_hold": Param(
            False,
            type="boolean",
            title="Approve a held roster",
            description="Deliver even when the changes cross a threshold (a planned change such as a new school year).",
        ),
        "force_upload": Param(
            False,
            type="boolean",
            title="Send even if a newer night was delivered",
            description="Deliver this night even though the vendor already holds a newer roster (a backfill that must win).",
        ),
    }


def _export_sensor(district: District, root: Path, **kwargs: Any) -> ExportSensor:
    return ExportSensor(
        task_id="wait_for_export",
        district=district,
        root=root,
        poke_interval=settings.sensor_poke_seconds(),
        doc_md=f"Waits up to `source.wait_for` ({district.source.wait_for}) for tonight's export, without holding a worker slot.",
        **kwargs,
    )


def _review_hold(district: District, root: Path) -> HoldReviewOperator:
    return HoldReviewOperator(
        task_id=REVIEW_TASK_ID,
        district=district,
        root=root,
        # Replaced when the task runs by the night's own (roster date, counts, State Test Numbers).
        subject=f"Roster {district.district_id}: approve the held roster?",
        body="Tonight's roster crosses a change threshold.",
        defaults=[HoldReviewOperator.REJECT],
        fail_on_reject=True,
        response_timeout=district.qa.hold_timeout,
        doc_md="Waits for a person to approve or reject a held roster; rejects when `qa.hold_timeout` passes.",
    )


def build_dag(district: District, root: Path) -> DAG:
    """The nightly DAG for one district."""
    with DAG(
        dag_id=f"roster_{district.district_id}",
        description=f"Nightly Rethink Ed roster for {district.name}",
        schedule=CronTriggerTimetable(district.schedule, timezone=district.timezone),
        start_date=pendulum.datetime(
            district.start_date.year, district.start_date.month, district.start_date.day, tz=district.timezone
        ),
        catchup=False,
        max_active_runs=1,
        tags=[*TAGS, district.district_id, f"mode:{district.mode}"],
        doc_md=_doc(district),
        default_args={"owner": "roster", "retries": 0, "on_failure_callback": OnCallNotifier(district, root)},
    ) as dag:
        _nightly_tasks(district, root)
    # The run parameters join the DAG after its tasks, so no task takes its own deep copies of them: a
    # run's params are the DAG's overridden by the run's conf all the same (``process_params``), and the
    # trigger form is the DAG's. ``update`` also skips Airflow re-checking the two constant defaults
    # against the JSON-Schema meta-schema for every DAG; tests/airflow/test_dag_integrity.py validates them.
    dag.params.update(_run_params())
    return dag


def sftp_pools(district: District) -> dict[str, dict[str, str]]:
    """Task id -> ``{"pool": destination.pool}`` for each task that opens an SFTP session; empty without a pool.

    The upload always does; ``wait_for_export`` when the export is ``sftp://``; ``extract_export`` when the
    export or the cross-match folder is. A sensor in reschedule mode holds the slot only while it pokes.
    """
    pool = district.destination.pool
    if pool is None:
        return {}
    remote_export = district.source.path.startswith("sftp://")
    remote_tables = district.crossmatch.startswith("sftp://")
    ids = ["upload_roster"]
    ids += ["wait_for_export"] if remote_export else []
    ids += ["extract_export"] if remote_export or remote_tables else []
    return {task_id: {"pool": pool} for task_id in ids}


def _nightly_tasks(district: District, root: Path) -> None:
    """The night's tasks and their order, inside the DAG being built."""
    retry = transfer_retry_args()
    pools = sftp_pools(district)
    # An XCom argument (``op_args=[task.output]``) also makes its task upstream.
    blackout = python_task(ShortCircuitOperator, tasks.check_blackout, district, ignore_downstream_trigger_rules=True)
    wait_for_export = _export_sensor(district, root, **pools.get("wait_for_export", {}))
    export = python_task(
        PythonOperator, tasks.extract_export, district, root, **retry, **pools.get("extract_export", {})
    )
    # One task reads the export once: the checks, then (QA passed) the roster file and its changes.
    built = python_task(BranchPythonOperator, tasks.build_roster, district, root, op_args=[export.output])
    qa_failure = python_task(PythonOperator, tasks.notify_qa_failure, district, root, **retry)
    hold = python_task(PythonOperator, tasks.notify_hold, district, root, **retry)
    review_hold = _review_hold(district, root)
    delivered = python_task(
        PythonOperator,
        tasks.upload_roster,
        district,
        root,
        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
        outlets=[delivery_asset(district)],
        **retry,
        **pools.get("upload_roster", {}),
    )
    summary = python_task(PythonOperator, tasks.notify_summary, district, root, **retry)
    yielded = python_task(PythonOperator, tasks.yield_to_newer_night, district)
    retention = python_task(PythonOperator, tasks.apply_retention, district, multiple_outputs=True)

    blackout >> [wait_for_export, retention]
    wait_for_export >> export
    built >> [qa_failure, delivered, hold, yielded]
    hold >> review_hold >> delivered
    delivered >> summary


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
        python_task(PythonOperator, tasks.config_error, error)
    return dag


@dataclass
class ParseCache:
    """What one parse of the DAG folder reads once for every district that shares it: layouts by name
    (with the vendor code lists they name), and cross-match tables by file (their rows and SHA-256)."""

    layouts: dict[str, Layout] = field(default_factory=dict)
    tables: dict[TableFile, tuple[list[TableRow], str]] = field(default_factory=dict)


def check_district(root: Path, district: District, cache: ParseCache | None = None) -> None:
    """What ``roster check-config`` checks besides the district file: its layout (with the vendor code
    lists it names) and its cross-match tables, each row against those lists.

    Small files read without pandas, so parsing stays cheap; ``cache`` keeps the layouts and tables read
    for the districts checked after (and ``roster.config.vendor_codes`` the lists by path), so districts
    sharing them read them once per parse, and each is still checked against its own layout. A
    ``ConfigError`` names the file and the line or key. Remote cross-match tables (a URL) are not read:
    parsing never touches the network, and each night checks the tables it copies.
    """
    from roster.config import load_layout
    from roster.config.crossmatch import load_crossmatch
    from roster.config.crossmatch_source import is_remote

    name = district.destination.layout
    layout = cache.layouts.get(name) if cache is not None else None
    if layout is None:
        layout = load_layout(root, name)
        if cache is not None:
            cache.layouts[name] = layout
    if not is_remote(district.crossmatch):
        load_crossmatch(root, district, layout, cache=cache.tables if cache is not None else None)


def build_all(root: Path | None = None, only_dag_id: str | None = None) -> dict[str, DAG]:
    """Every district's DAG by dag id; a district that does not load gives a stand-in DAG and a logged error.

    A district loads when its file, its cross-match tables and its layout do (as ``roster
    check-config`` has it), and its DAG builds.

    Python's cyclic garbage collector is paused while the DAGs are built (and resumed as it was, even on
    an error): building them makes objects by the hundred thousand that all stay alive, and each full
    collection their growth triggers would walk every one of them again for nothing to free (about a
    tenth of a plain process's parse with 1,000 districts, docs/PERFORMANCE.md). Reference counting
    still frees everything else at once, and anything cyclic left over is collected after.
    """
    root = root or include_root()
    dags: dict[str, DAG] = {}
    cache = ParseCache()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for path in district_files(root):
            dag_id = dag_id_for(path)
            if only_dag_id and only_dag_id != dag_id:
                continue
            try:
                district = load_district(path)
                check_district(root, district, cache)
                dags[dag_id] = build_dag(district, root)
            except ConfigError as exc:
                log.error("district not loaded: %s", exc)
                dags.setdefault(dag_id, broken_district_dag(path, str(exc)))
            except Exception as exc:  # noqa: BLE001 - one district's surprise must not hide the others
                error = f"{path}: the DAG could not be built ({type(exc).__name__}: {first_line(exc)})"
                log.error("district not loaded: %s", error)
                dags.setdefault(dag_id, broken_district_dag(path, error))
    finally:
        if enabled:
            gc.enable()
    return dags


def first_line(exc: BaseException) -> str:
    """The first non-blank line of an error's message, at most 300 characters."""
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), "")[:300]


__all__ = ["build_all", "build_dag"]
