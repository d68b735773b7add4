"""What each task of a night does: the domain transform wired to run folders, SFTP and SMTP.

Each step takes the district and the roster date, works inside the night's run folder, and returns
only names and counts (they become XCom): never rows, names or dates of birth.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import shutil
from pathlib import Path
from typing import Any

from roster.io import artifacts
from roster.airflow.hooks import smtp as mail
from roster.io import store as storage
from roster.airflow.hooks import sftp as transfer
from roster.config import District, resolve
from roster.errors import InputError

log = logging.getLogger("roster")


def _night(district: District, root: Path, day: dt.date):
    from roster.night.pipeline import Night

    return Night.load(root, district, day)


def export_copy_name(district: District, day: dt.date) -> str:
    """The run's copy of the export keeps the export's own file name."""
    return "export_" + Path(district.source_path(day)).name


def expected_export(district: District, root: Path, day: dt.date) -> str:
    """Where tonight's export should be, as a user would look for it."""
    source = district.source_path(day)
    return source if source.startswith("sftp://") else str(resolve(root, source))


def export_present(district: District, root: Path, day: dt.date) -> bool:
    source = district.source_path(day)
    if source.startswith("sftp://"):
        return transfer.exists(source)
    return resolve(root, source).is_file()


def extract(district: District, root: Path, day: dt.date) -> str:
    """Copy tonight's export (a local path or ``sftp://<conn_id>/<path>``) into the run folder."""
    source = district.source_path(day)
    name = export_copy_name(district, day)
    with storage.run_workspace(district.district_id, day) as folder:
        target = folder / name
        if source.startswith("sftp://"):
            try:
                size = transfer.fetch(source, target)
            except FileNotFoundError:
                raise InputError(f"{source}: tonight's export is not there (expected for roster date {day})") from None
        else:
            path = resolve(root, source)
            if not path.is_file():
                raise InputError(f"{path}: tonight's export is not there (expected for roster date {day})")
            tmp = target.with_name(f".{name}.part")
            shutil.copyfile(path, tmp)
            tmp.chmod(0o600)
            tmp.replace(target)
            size = target.stat().st_size
    log.info("export for %s copied into the run folder as %s (%d bytes)", day, name, size)
    return name


def validate(district: District, root: Path, day: dt.date, export_name: str) -> dict[str, Any]:
    """Validate the run's copy of the export; the verdict as counts."""
    from roster.night.pipeline import validate_night

    night = _night(district, root, day)
    with storage.run_workspace(district.district_id, day) as folder:
        # A re-run that now fails QA must not leave last run's roster looking like tonight's output.
        (folder / night.output_name).unlink(missing_ok=True)
        report = validate_night(night, folder / export_name, folder).report
        _not_delivered_yet(folder)
    log.info("QA %s: %s; rejects by reason: %s", "passed" if report.passed else "FAILED", report.verdict, report.rejects_by_reason)
    return {
        "passed": report.passed,
        "rows_read": report.rows_read,
        "rows_rejected": report.rows_rejected,
        "rows_accepted": report.rows_accepted,
        "verdict": report.verdict,
    }


def _not_delivered_yet(folder: Path) -> None:
    """``rows_delivered`` stays 0 in ``qa_report.json`` until ``record_delivery``: a night whose upload
    or email then fails must not read as delivered (``mark_delivered`` sets it from ``rows_in_file``)."""
    report = artifacts.read_json(folder / artifacts.QA_REPORT)
    if report.get("rows_delivered"):
        report["rows_delivered"] = 0
        artifacts.write_json(folder / artifacts.QA_REPORT, report)


def blackout_reason(district: District, day: dt.date) -> str | None:
    """Why tonight sends nothing, when it falls in one of the district's blackout windows."""
    window = district.in_blackout(day)
    if window is None:
        return None
    return f"{day} is inside the blackout window {window.start} to {window.end} of district {district.district_id}: nothing is read or sent tonight"


def apply_retention(district: District, day: dt.date) -> dict[str, Any]:
    """Delete the district's run folders older than ``ROSTER_RETENTION_DAYS`` days on ``day``; what went."""
    from roster import settings
    from roster.night import retention

    keep_days = settings.retention_days()
    removed: list[str] = []
    try:
        for name in retention.expired(storage.district_folders(district.district_id), day, keep_days):
            storage.remove_folder(district.district_id, name)
            removed.append(name)
    finally:
        # Said even when a deletion fails half-way: what is gone is gone.
        log.info("%s", retention.summary(district.district_id, removed, keep_days, day))
    return {"removed": removed, "retention_days": keep_days}


def serialize(district: District, root: Path, day: dt.date, export_name: str) -> dict[str, Any]:
    """Render the roster file into the run folder and judge its changes against the last delivery."""
    from roster.night.snapshot import baseline_for
    from roster.night.pipeline import serialize_night

    night = _night(district, root, day)
    with storage.snapshot_workspace(district.district_id) as state:
        snapshot = baseline_for(state, day)
    with storage.run_workspace(district.district_id, day) as folder:
        roster = serialize_night(night, folder / export_name, folder, snapshot.frame if snapshot else None)
        _not_delivered_yet(folder)
        size = (folder / night.output_name).stat().st_size
    diff = roster.diff
    log.info(
        "roster file %s written (%d rows, %d bytes); changes against %s: %s",
        night.output_name, len(roster.frame), size,
        snapshot.roster_date if snapshot else "nothing (first night)", diff.counts,
    )
    for reason in diff.hold_reasons:
        log.warning("HOLD: %s", reason)
    return {"filename": night.output_name, "held": diff.held, "hold_reasons": diff.hold_reasons, "changes": diff.counts}


def newer_delivery(district: District, day: dt.date) -> dt.date | None:
    """The newer night the vendor already holds, when this night is older (a backfill, a late re-run)."""
    from roster.night.snapshot import last_delivery

    with storage.snapshot_workspace(district.district_id) as state:
        delivery = last_delivery(state)
    return delivery.roster_date if delivery and delivery.roster_date > day else None


def yield_to_newer(district: District, day: dt.date, newer: dt.date) -> str:
    """Archive this night without sending it: the vendor already holds a newer roster."""
    from roster.night.pipeline import mark_superseded

    message = (
        f"not uploaded: the vendor already holds the newer roster of {newer}; this night ({day}) is archived "
        f"in {storage.run_location(district.district_id, day)}. Trigger with {{\"force_upload\": true}} to send it anyway."
    )
    with storage.run_workspace(district.district_id, day) as folder:
        mark_superseded(folder, newer)
    log.warning("SUPERSEDED: %s", message)
    return message


def upload(district: District, day: dt.date, filename: str) -> dict[str, Any]:
    """Deliver the roster file to the district's remote folder (the QA folder in qa mode)."""
    with storage.run_workspace(district.district_id, day) as folder:
        delivered = transfer.upload(district.destination.conn_id, folder / filename, district.remote_dir, filename)
    log.info("delivered %s (%d bytes) over connection %s", delivered.remote_path, delivered.size, district.destination.conn_id)
    return {"remote_path": delivered.remote_path, "size": delivered.size, "mode": district.mode}


def record_delivery(district: District, root: Path, day: dt.date, delivered: dict[str, Any]) -> dict[str, Any]:
    """Make tonight's delivered roster the district's snapshot, the baseline of the next night."""
    from roster.night.snapshot import write_snapshot
    from roster.night.pipeline import mark_delivered, snapshot_of_delivery

    night = _night(district, root, day)
    with storage.run_workspace(district.district_id, day) as folder:
        frame = snapshot_of_delivery(night, folder)
        mark_delivered(folder, remote_path=delivered["remote_path"], mode=delivered["mode"])
        with storage.snapshot_workspace(district.district_id) as state:
            write_snapshot(state, frame, day, folder / night.output_name)
    log.info("snapshot updated: %d students as delivered on %s", len(frame), day)
    return {"snapshot_date": day.isoformat(), "students": len(frame)}


def notify_hold(district: District, root: Path, day: dt.date, run_ref: str) -> str:
    """Email point person, coordinator and on-call: the changes, the ids concerned, how to decide."""
    from roster.notify.emails import hold_notice
    from roster.night.qa import QaReport

    with storage.run_workspace(district.district_id, day) as folder:
        report = QaReport.from_json(artifacts.read_json(folder / artifacts.QA_REPORT))
        with (folder / artifacts.CHANGES).open(encoding="utf-8", newline="") as handle:
            changes = list(csv.DictReader(handle))
        email = hold_notice(root, district, report, changes, storage.run_location(district.district_id, day), run_ref)
        mail.send(district.smtp_conn_id, email, attachments=[folder / artifacts.CHANGES])
    log.info("hold email sent to %d recipients and %d cc", len(email.to), len(email.cc))
    return "; ".join(report.extra["changes"]["hold_reasons"])


def notify_qa_failure(district: District, root: Path, day: dt.date) -> str:
    """Email the point person (cc the coordinator) what to fix; the verdict."""
    from roster.notify.emails import qa_failure
    from roster.night.qa import QaReport

    with storage.run_workspace(district.district_id, day) as folder:
        report = QaReport.from_json(artifacts.read_json(folder / artifacts.QA_REPORT))
        with (folder / artifacts.REJECTS).open(encoding="utf-8", newline="") as handle:
            rejects = list(csv.DictReader(handle))
        email = qa_failure(root, district, report, rejects, storage.run_location(district.district_id, day))
        mail.send(district.smtp_conn_id, email, attachments=[folder / artifacts.REJECTS])
    log.info("QA failure email sent to the point person and %d cc", len(email.cc))
    return report.verdict
