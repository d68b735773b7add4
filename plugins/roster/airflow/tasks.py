"""Every task callable of every roster DAG: each calls the domain (``roster.night``, ``roster.golive``,
``roster.io``) directly.

The DAG modules bind these to a district (and the include root) with ``functools.partial`` through
``roster.airflow.operators.python_task``; a task's docstring is its documentation in the UI. Tasks
work inside the night's run folder and return only names and counts (they become XCom): never rows,
names or dates of birth. Parsing a DAG file imports this module, so the heavy modules (pandas,
pyarrow, paramiko) are imported inside the functions.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from pathlib import Path
from typing import Any

from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowFailException

from roster.airflow.context import roster_date
from roster.config import District, check_district_id, district_files, find_district, load_district, resolve
from roster.errors import ConfigError, InputError, SnapshotNotRecorded
from roster.golive.steps import STEPS
from roster.io import artifacts, store

log = logging.getLogger("roster")


def _night(district: District, root: Path, day: dt.date, folder: Path):
    """The night's configuration; remote cross-match tables from their copies in the run ``folder``."""
    from roster.night.pipeline import Night

    return Night.load(root, district, day, crossmatch_copies=folder)


def _copy_crossmatch(district: District, folder: Path) -> bool:
    """Copy a remote district's cross-match tables into ``folder`` (the run folder: the version every
    later task of the night reads); False for tables in a local folder, which are read in place."""
    from roster.config.crossmatch_source import is_remote

    if not is_remote(district.crossmatch):
        return False
    from roster.airflow.hooks import sftp as transfer
    from roster.io.crossmatch_copy import copy_tables

    copied = copy_tables(district, folder, transfer.fetch)
    log.info("cross-match tables %s copied from %s", ", ".join(copied), district.crossmatch)
    return True


# The nightly DAG ------------------------------------------------------------------------------------


def blackout_reason(district: District, day: dt.date) -> str | None:
    """Why tonight sends nothing, when it falls in one of the district's blackout windows."""
    window = district.in_blackout(day)
    if window is None:
        return None
    return f"{day} is inside the blackout window {window.start} to {window.end} of district {district.district_id}: nothing is read or sent tonight"


def check_blackout(district: District) -> bool:
    """Skip the whole night, successfully, inside a blackout window (summer pause)."""
    reason = blackout_reason(district, roster_date(district))
    if reason:
        log.warning("BLACKOUT: %s", reason)
        return False
    return True


def apply_retention(district: District) -> dict[str, Any]:
    """Delete this district's run folders older than ROSTER_RETENTION_DAYS days (default 30); say which."""
    from roster import settings
    from roster.night.retention import remove_expired

    keep_days = settings.retention_days()
    return {
        "removed": remove_expired(district.district_id, roster_date(district), keep_days),
        "retention_days": keep_days,
    }


def expected_export(district: District, root: Path, day: dt.date) -> str:
    """Where tonight's export should be, as a user would look for it."""
    source = district.source_path(day)
    return source if source.startswith("sftp://") else str(resolve(root, source))


def export_present(district: District, root: Path, day: dt.date) -> bool:
    source = district.source_path(day)
    if source.startswith("sftp://"):
        from roster.airflow.hooks import sftp as transfer

        return transfer.exists(source)
    from roster.io.export_copy import local_export_present

    return local_export_present(resolve(root, source), package=district.source.format == "oneroster")


def extract_export(district: District, root: Path) -> str:
    """Copy tonight's export into the run folder; its file name there (the export's own name, prefixed;
    a OneRoster package folder is copied as one zip, ``export_<folder>.zip``)."""
    from roster.io.export_copy import copy_local_export, copy_name

    day = roster_date(district)
    source = district.source_path(day)
    remote = source.startswith("sftp://")
    path = None if remote else resolve(root, source)
    name = copy_name(path) if path is not None else "export_" + Path(source).name
    missing = f"tonight's export is not there (expected for roster date {day})"
    with store.run_workspace(district.district_id, day) as folder:
        target = folder / name
        try:
            if path is None:
                from roster.airflow.hooks import sftp as transfer

                size = transfer.fetch(source, target)
            else:
                size = copy_local_export(path, target, package=district.source.format == "oneroster")
        except FileNotFoundError:
            raise InputError(f"{source if path is None else path}: {missing}") from None
        _copy_crossmatch(district, folder)
    log.info("export for %s copied into the run folder as %s (%d bytes)", day, name, size)
    return name


def build_roster(district: District, root: Path, export_name: str) -> str:
    """Check every row (qa_report.json, rejects.csv); when QA passes, write the vendor's file (absent
    students carried as inactive) and its changes against the last delivery. Then choose the night's
    way on: notify_qa_failure, upload_roster, notify_hold or yield_to_newer_night."""
    from roster.night.pipeline import serialize_night, validate_night
    from roster.night.snapshot import baseline_for

    day = roster_date(district)
    with store.run_workspace(district.district_id, day) as folder:
        night = _night(district, root, day, folder)
        validated = validate_night(night, folder / export_name, folder)
        report = validated.report
        log.info(
            "QA %s: %s; rejects by reason: %s",
            "passed" if report.passed else "FAILED",
            report.verdict,
            report.rejects_by_reason,
        )
        if not report.passed:
            return "notify_qa_failure"
        with store.snapshot_workspace(district.district_id) as state:
            snapshot = baseline_for(state, day)
        # The rows validation accepted, from this process: the export is read once a night.
        previous = snapshot.frame if snapshot else None
        roster = serialize_night(night, folder / export_name, folder, previous, validated=validated)
        size = (folder / night.output_name).stat().st_size
    diff = roster.diff
    log.info(
        "roster file %s written (%d rows, %d bytes); changes against %s: %s",
        night.output_name,
        len(roster.frame),
        size,
        snapshot.roster_date if snapshot else "nothing (first night)",
        diff.counts,
    )
    for reason in diff.hold_reasons:
        log.warning("HOLD: %s", reason)
    return _route(district, diff.held, diff.hold_reasons)


def newer_delivery(district: District, day: dt.date) -> dt.date | None:
    """The newer night the vendor already holds, when this night is older (a backfill, a late re-run)."""
    from roster.night.snapshot import last_delivery

    with store.snapshot_workspace(district.district_id) as state:
        delivery = last_delivery(state)
    return delivery.roster_date if delivery and delivery.roster_date > day else None


def _route(district: District, held: bool, hold_reasons: list[str]) -> str:
    """Deliver, unless a newer night was delivered or the changes cross a threshold (then hold)."""
    params = get_current_context()["params"]
    newer = newer_delivery(district, roster_date(district))
    if newer and not params.get("force_upload"):
        return "yield_to_newer_night"
    if newer:
        log.warning("force_upload: sending this night although the vendor holds the newer night %s", newer)
    if not held:
        return "upload_roster"
    if params.get("approve_hold"):
        log.warning("held night approved in advance by approve_hold: %s", "; ".join(hold_reasons))
        return "upload_roster"
    return "notify_hold"


def yield_to_newer_night(district: District) -> str:
    """Archive this night without sending it: the vendor already holds a newer roster."""
    from roster.night.pipeline import mark_superseded

    day = roster_date(district)
    newer = newer_delivery(district, day)
    if newer is None:
        return "a newer night was delivered meanwhile"
    message = (
        f"not uploaded: the vendor already holds the newer roster of {newer}; this night ({day}) is archived "
        f'in {store.run_location(district.district_id, day)}. Trigger with {{"force_upload": true}} to send it anyway.'
    )
    with store.run_workspace(district.district_id, day) as folder:
        mark_superseded(folder, newer)
    log.warning("SUPERSEDED: %s", message)
    return message


def notify_hold(district: District, root: Path) -> None:
    """Email point person, coordinator and on-call the changes and how to approve or reject."""
    from roster.airflow.hooks import smtp as mail
    from roster.io import report_csv
    from roster.night.qa import load_report
    from roster.notify.emails import hold_notice

    context = get_current_context()
    day = roster_date(district, context)
    with store.run_workspace(district.district_id, day) as folder:
        report = load_report(folder)
        assert report.changes is not None, "a night is held only after build_roster wrote its changes section"
        changes = report_csv.read_rows(folder / artifacts.CHANGES)
        email = hold_notice(
            root, district, report, changes, store.run_location(district.district_id, day), context["run_id"]
        )
        mail.send(district.smtp_conn_id, email, attachments=[folder / artifacts.CHANGES])
    log.info("hold email sent to %d recipients and %d cc", len(email.to), len(email.cc))
    log.warning("HOLD: %s; waiting for a decision in review_hold", "; ".join(report.changes.hold_reasons))


def upload_roster(district: District, root: Path) -> dict[str, Any]:
    """Upload the roster file atomically over SFTP to the district's folder, then make it the baseline
    of the next night's diff (the snapshot). A retry after a failed recording uploads the same file
    again (same name, same bytes, renamed into place) before recording it."""
    from roster.airflow.assets import delivery_asset, delivery_extra, sha256_of
    from roster.airflow.hold import decision
    from roster.airflow.hooks import sftp as transfer
    from roster.night import pipeline
    from roster.night.qa import load_report

    context = get_current_context()
    day = roster_date(district, context)
    filename = district.output_filename(day)
    approved_by, approved_at = decision(context)
    with store.run_workspace(district.district_id, day) as folder:
        delivered = transfer.upload(district.destination.conn_id, folder / filename, district.remote_dir, filename)
        log.info(
            "delivered %s (%d bytes) over connection %s",
            delivered.remote_path,
            delivered.size,
            district.destination.conn_id,
        )
        sha256, rows = sha256_of(folder / filename), load_report(folder).rows_in_file
        try:
            with store.snapshot_workspace(district.district_id) as state:
                frame = pipeline.record_delivery(
                    _night(district, root, day, folder),
                    folder,
                    state,
                    remote_path=delivered.remote_path,
                    mode=district.mode,
                    approved_by=approved_by,
                    approved_at=approved_at,
                )
        except Exception as exc:
            raise SnapshotNotRecorded(
                f"{delivered.remote_path} was delivered but not recorded as the next night's baseline "
                f"({type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else 'no message'})"
            ) from exc
    log.info("snapshot updated: %d students as delivered on %s", len(frame), day)
    # The task's outlet gets its event when the task succeeds: once the file is there and recorded.
    extra = delivery_extra(district, day.isoformat(), delivered.remote_path, rows, sha256)
    context["outlet_events"][delivery_asset(district)].extra = extra
    return {"remote_path": delivered.remote_path, "size": delivered.size, "mode": district.mode, "students": len(frame)}


def notify_summary(district: District, root: Path) -> str:
    """Email the point person the delivered night's summary, under notify.summary; say why or why not."""
    from roster.airflow.hooks import smtp as mail
    from roster.io import report_csv
    from roster.night.pipeline import never_delivered
    from roster.night.qa import load_report
    from roster.notify.emails import nightly_summary
    from roster.notify.summary import summary_reason

    day = roster_date(district)
    with store.run_workspace(district.district_id, day) as folder:
        report = load_report(folder)
        why = summary_reason(district, report)
        if why is None:
            message = f"no summary sent (notify.summary: {district.notify.summary}; nothing worth a look tonight)"
            log.info("%s", message)
            return message
        rejects = report_csv.read_rows(folder / artifacts.REJECTS)
        missing = never_delivered(_night(district, root, day, folder), folder, rejects)
        email = nightly_summary(
            root, district, report, rejects, missing, why, store.run_location(district.district_id, day)
        )
        mail.send(district.smtp_conn_id, email, attachments=[folder / artifacts.REJECTS])
    message = f"summary sent to {len(email.to)} recipient(s) and {len(email.cc)} cc: {len(rejects)} reject line(s), {len(missing)} new student(s) missing at the vendor"
    log.info("%s", message)
    return message


def notify_qa_failure(district: District, root: Path) -> None:
    """Email the point person what to fix, then fail the run: nothing was sent."""
    from roster.airflow.hooks import smtp as mail
    from roster.io import report_csv
    from roster.night.qa import load_report
    from roster.notify.emails import qa_failure

    day = roster_date(district)
    with store.run_workspace(district.district_id, day) as folder:
        report = load_report(folder)
        rejects = report_csv.read_rows(folder / artifacts.REJECTS)
        email = qa_failure(root, district, report, rejects, store.run_location(district.district_id, day))
        mail.send(district.smtp_conn_id, email, attachments=[folder / artifacts.REJECTS])
    log.info("QA failure email sent to the point person and %d cc", len(email.cc))
    raise AirflowFailException(f"QA failed, nothing sent: {report.verdict}")


def config_error(error: str) -> None:
    """Fail with the district file's error."""
    raise AirflowFailException(error)


# The go-live DAG ------------------------------------------------------------------------------------


def _go_live_input(root: Path, params: dict[str, Any], param: str, scratch: Path) -> Path:
    """A path param as a local file: absolute, relative to the include root, or ``sftp://<conn_id>/<path>``."""
    value = str(params.get(param) or "").strip()
    if not value:
        raise InputError(
            f"param {param!r} is empty; give the file's path (absolute, relative to the include root, or sftp://<conn_id>/<path>)"
        )
    if value.startswith("sftp://"):
        from roster.airflow.hooks import sftp as transfer

        local = scratch / f"{param}_{Path(value).name}"
        try:
            transfer.fetch(value, local)
        except FileNotFoundError:
            raise InputError(f"{value}: not found (param {param!r})") from None
        return local
    return resolve(root, value)


def go_live_step(root: Path) -> dict[str, Any]:
    """Run the chosen step for the chosen district; the reports go to ROSTER_DATA_ROOT/<district>/go-live/<run id>/."""
    from roster.airflow.hooks.smtp import send_or_fail
    from roster.golive import steps as golive

    context = get_current_context()
    params, run_id = dict(context["params"]), context["run_id"]
    district_id, step = str(params.get("district") or ""), str(params.get("step") or "")
    if not district_id:
        raise InputError("param 'district' is empty; pick the district to take live")
    try:
        check_district_id(district_id)  # before it names a folder or a file
    except ConfigError as exc:
        raise InputError(f"param 'district': {exc}") from None
    if step not in STEPS:
        raise InputError(f"param 'step' is {step!r}; expected one of {', '.join(STEPS)}")
    with (
        tempfile.TemporaryDirectory(prefix="roster-go-live-") as tmp,
        store.go_live_workspace(district_id, run_id) as folder,
    ):
        scratch = Path(tmp)
        if step == "crossmatch":
            district = find_district(root, district_id)
            copies = scratch / "crossmatch"
            sis = _go_live_input(root, params, "sis_path", scratch)
            result = golive.crossmatch(
                root, district, sis, folder, copies=copies if _copy_crossmatch(district, copies) else None
            )
        elif step == "reconcile":
            sis = _go_live_input(root, params, "sis_path", scratch)
            vendor = _go_live_input(root, params, "vendor_path", scratch)
            result = golive.reconcile(root, district_id, sis, vendor, folder)
        else:
            result = golive.announce(root, district_id, folder, send=send_or_fail if params.get("send") else None)
    location = store.go_live_location(district_id, run_id)
    log.info("%s %s: %s", step, district_id, result.summary)
    for note in result.notes:
        log.info("%s", note.replace(str(folder), location))
    if result.exit_code:
        log.warning("%s found things for the district to fix: see %s", step, location)
    return {
        "district": district_id,
        "step": step,
        "exit_code": result.exit_code,
        "summary": result.summary,
        "location": location,
        "files": [p.name for p in result.files],
    }


# The watchdog DAG -----------------------------------------------------------------------------------


def _watched_districts(root: Path) -> list[District]:
    districts = []
    for path in district_files(root):
        try:
            districts.append(load_district(path))
        except ConfigError as exc:
            log.error("not watched, district file does not load: %s", exc)
    return districts


def check_deliveries(root: Path) -> list[dict[str, Any]]:
    """Find stale live districts and email their on-call contacts; the findings (ids only)."""
    from dataclasses import asdict

    from roster.airflow.hooks import smtp as mail
    from roster.golive.watchdog import find_stale
    from roster.night.snapshot import last_delivery
    from roster.notify.emails import watchdog_alert

    hours = float(get_current_context()["params"]["stale_after_hours"])
    districts = _watched_districts(root)
    deliveries = {}
    for district in districts:
        with store.snapshot_workspace(district.district_id) as state:
            deliveries[district.district_id] = last_delivery(state)
    now = dt.datetime.now(dt.UTC)
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
