"""Sending emails through the SMTP provider's hook on a district's ``smtp_conn_id``."""

from __future__ import annotations

import os
from pathlib import Path

from roster.emails import Email

DEFAULT_FROM = "roster-pipeline@localhost"


def send(conn_id: str, email: Email, attachments: list[Path] | None = None) -> None:
    """Send ``email``; the sender is the connection's ``from_email``, else ``ROSTER_MAIL_FROM``."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=conn_id) as hook:
        sender = hook.from_email or os.environ.get("ROSTER_MAIL_FROM") or DEFAULT_FROM
        hook.send_email_smtp(
            to=email.to,
            cc=email.cc or None,
            subject=email.subject,
            html_content=email.html,
            from_email=sender,
            files=[str(p) for p in attachments or []],
        )


def send_or_fail(conn_id: str, email: Email) -> None:
    """``send``, with any connection or SMTP failure as one readable ``TransferError`` line.

    For interactive use (``roster announce --send``, the go-live DAG), where a person reads the error
    and no retry follows. The message names the connection and the subject, never a body.
    """
    from roster.errors import TransferError

    try:
        send(conn_id, email)
    except Exception as exc:  # noqa: BLE001 - SMTP, socket and Airflow connection errors alike
        detail = (str(exc).strip().splitlines() or [""])[0][:300]
        raise TransferError(
            f"SMTP connection {conn_id!r}: could not send {email.subject!r} to {', '.join(email.to)} "
            f"({type(exc).__name__}{': ' + detail if detail else ''})"
        ) from None
