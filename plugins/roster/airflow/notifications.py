"""The on-call email for a failed night, sent by Airflow's ``SmtpNotifier`` as a failure callback.

It says which district and night failed, which task, the first error line in plain words, what to
do (a pointer into docs/RUNBOOK.md), and links to the task's log. Error lines of the project's own
failures are written to carry no student data; any other exception is reduced to its type and first
line, cut short.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import BaseNotifier

from roster.airflow.context import roster_date
from roster.config import District
from roster.io.store import run_location

#: task id -> the runbook section an on-call engineer should open first.
RUNBOOK_SECTIONS = {
    "wait_for_export": "Export late or missing",
    "extract_export": "Export late or missing",
    "build_roster": "Bad export or bad district file",
    "notify_qa_failure": "QA failed",
    "review_hold": "Held for review",
    "notify_hold": "SMTP down",
    "notify_summary": "SMTP down",
    "upload_roster": "SFTP down, authentication or host key",
    "config_error": "Bad district file",
    "apply_retention": "Retention",
}
MAX_LINE = 300


def first_error_line(exception: BaseException | str | None) -> str:
    """One readable line: the project's own messages whole, anything else as type and a short first line."""
    if exception is None:
        return "the task failed without an error message (killed, timed out, or marked failed by hand)"
    if isinstance(exception, str):
        text = exception
    else:
        text = str(exception) or type(exception).__name__
        if type(exception).__module__.split(".")[0] not in ("roster", "airflow"):
            text = f"{type(exception).__name__}: {text}"
    line = next((part.strip() for part in text.splitlines() if part.strip()), text)
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"


def runbook_section(task_id: str, exception: BaseException | str | None) -> str:
    """The runbook section for a failed task: "SMTP down" for any email that could not be sent (a QA
    email that failed is a mail problem, not a QA one), "Snapshot not recorded" for a delivered roster
    that did not become the baseline, else the task's own section."""
    from roster.airflow.hooks.smtp import MailNotSent  # imports the email renderer: not at DAG parse
    from roster.errors import SnapshotNotRecorded

    if isinstance(exception, MailNotSent):
        return "SMTP down"
    if isinstance(exception, SnapshotNotRecorded):
        return "Snapshot not recorded"
    return RUNBOOK_SECTIONS.get(task_id, "Other failures")


class OnCallNotifier(BaseNotifier):
    """Emails ``contacts.oncall`` when any task of a district's night fails (text and HTML parts)."""

    template_fields = ()

    def __init__(self, district: District, root: Path) -> None:
        super().__init__()
        self.district = district
        self.root = root

    def notify(self, context: Any) -> None:
        if not self.district.contacts.oncall:
            return
        from roster.notify.emails import oncall_failure

        ti = context["ti"]
        day = roster_date(self.district, context)
        email = oncall_failure(
            self.root,
            self.district,
            roster_date=day,
            task_id=ti.task_id,
            try_number=ti.try_number,
            error=first_error_line(context.get("exception")),
            log_url=ti.log_url,
            run_id=context["run_id"],
            runbook_section=runbook_section(ti.task_id, context.get("exception")),
            run_location=run_location(self.district.district_id, day),
        )
        from roster.airflow.hooks import smtp as mail

        mail.send(self.district.smtp_conn_id, email)
