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

from roster import artifacts
from roster.airflow import mail, storage, transfer
from roster.config import District, resolve
from roster.errors import InputError

log = logging.getLogger("roster")


def _night(district: District, root: Path, day: dt.date):
    from roster.transform import Night

    return Night.load(root, district, day)


def export_copy_name(district: District, day: dt.date) -> str:
    """The run's copy of the export keeps the export's own file name."""
    return "export_" + Path(district.source_path(day)).name


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
    from roster.transform import validate_night

    night = _night(district, root, day)
    with storage.run_workspace(district.district_id, day) as folder:
        # A re-run that now fails QA must not leave last run's roster looking like tonight's output.
        (folder / night.output_name).unlink(missing_ok=True)
        report = validate_night(night, folder / export_name, folder).report
    log.info("QA %s: %s; rejects by reason: %s", "passed" if report.passed else "FAILED", report.verdict, report.rejects_by_reason)
    return {
        "passed": report.passed,
        "rows_read": report.rows_read,
        "rows_rejected": report.rows_rejected,
        "rows_accepted": report.rows_accepted,
        "verdict": report.verdict,
    }


def serialize(district: District, root: Path, day: dt.date, export_name: str) -> str:
    """Render the roster file into the run folder; its file name."""
    from roster.transform import serialize_night

    night = _night(district, root, day)
    with storage.run_workspace(district.district_id, day) as folder:
        path = serialize_night(night, folder / export_name, folder)
        size = path.stat().st_size
    log.info("roster file %s written (%d bytes)", path.name, size)
    return path.name


def upload(district: District, day: dt.date, filename: str) -> dict[str, Any]:
    """Deliver the roster file to the district's remote folder (the QA folder in qa mode)."""
    with storage.run_workspace(district.district_id, day) as folder:
        delivered = transfer.upload(district.destination.conn_id, folder / filename, district.remote_dir, filename)
    log.info("delivered %s (%d bytes) over connection %s", delivered.remote_path, delivered.size, district.destination.conn_id)
    return {"remote_path": delivered.remote_path, "size": delivered.size, "mode": district.mode}


def notify_qa_failure(district: District, root: Path, day: dt.date) -> str:
    """Email the point person (cc the coordinator) what to fix; the verdict."""
    from roster.emails import qa_failure
    from roster.qa import QaReport

    with storage.run_workspace(district.district_id, day) as folder:
        report = QaReport.from_json(artifacts.read_json(folder / artifacts.QA_REPORT))
        with (folder / artifacts.REJECTS).open(encoding="utf-8", newline="") as handle:
            rejects = list(csv.DictReader(handle))
        email = qa_failure(root, district, report, rejects, storage.run_location(district.district_id, day))
        mail.send(district.smtp_conn_id, email, attachments=[folder / artifacts.REJECTS])
    log.info("QA failure email sent to the point person and %d cc", len(email.cc))
    return report.verdict
