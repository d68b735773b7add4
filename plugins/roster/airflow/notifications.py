"""The on-call email for a failed night, sent by Airflow's ``SmtpNotifier`` as a failure callback.

It says which district and night failed, which task, the first error line in plain words, what to
do (a pointer into docs/RUNBOOK.md), and links to the task's log. Error lines of the project's own
failures are written to carry no student data; any other exception is reduced to its type and first
line, cut short.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.providers.smtp.notifications.smtp import SmtpNotifier

from roster import settings
from roster.airflow.context import roster_date
from roster.config import District
from roster.io.store import run_location

#: task id -> the runbook section an on-call engineer should open first.
RUNBOOK_SECTIONS = {
    "wait_for_export": "Export late or missing",
    "extract_export": "Export late or missing",
    "validate_export": "Bad export or bad district file",
    "notify_qa_failure": "QA failed",
    "review_hold": "Held for review",
    "notify_hold": "SMTP down",
    "upload_roster": "SFTP down, authentication or host key",
    "record_delivery": "Snapshot not recorded",
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


class OnCallNotifier(SmtpNotifier):
    """Emails ``contacts.oncall`` when any task of a district's night fails."""

    def __init__(self, district: District, root: Path) -> None:
        super().__init__(to=list(district.contacts.oncall), smtp_conn_id=district.smtp_conn_id)
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
            runbook_section=RUNBOOK_SECTIONS.get(ti.task_id, "Other failures"),
            run_location=run_location(self.district.district_id, day),
        )
        self.subject = email.subject
        self.html_content = email.html
        if self.from_email is None:
            from airflow.sdk import BaseHook

            extra = BaseHook.get_connection(self.smtp_conn_id).extra_dejson or {}
            self.from_email = extra.get("from_email") or settings.mail_from()
        super().notify(context)
