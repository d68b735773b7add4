"""Sending emails through the SMTP provider's hook on a district's ``smtp_conn_id``."""

from __future__ import annotations

import smtplib
from pathlib import Path
from typing import cast

from roster import settings
from roster.notify.emails import Email, to_message


class MailNotSent(ConnectionError):
    """An email could not be sent (server down, refused, timed out): the notify task retries.

    Not a ``RosterError`` on purpose: a mail server that is back later fixes it. The message is one
    line naming the connection, the server and the subject, never the body.
    """


def send(conn_id: str, email: Email, attachments: list[Path] | None = None) -> None:
    """Send ``email``; the sender is the connection's ``from_email``, else ``ROSTER_MAIL_FROM``.

    Any failure is a ``MailNotSent`` naming the connection and server; the task's retries handle it.
    """
    try:
        _send(conn_id, email, attachments)
    except Exception as exc:  # SMTP, socket and Airflow connection errors alike
        raise MailNotSent(
            f"SMTP connection {conn_id!r}{_server(conn_id)}: could not send {email.subject!r} "
            f"({type(exc).__name__}{': ' + _detail(exc) if _detail(exc) else ''})"
        ) from exc


def _detail(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]


def _server(conn_id: str) -> str:
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
        return f" ({conn.host}:{conn.port})" if conn.host else ""
    except Exception:  # noqa: BLE001 - only decoration for a message
        return ""


def _send(conn_id: str, email: Email, attachments: list[Path] | None = None) -> None:
    """Through the SMTP provider's hook (its TLS, login and OAuth2 from the connection), our own message.

    The hook's ``send_email_smtp`` builds an HTML-only message; ours is multipart/alternative
    (``notify.emails.to_message``), so it goes out on the client the hook logged in.
    """
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=conn_id) as hook:
        sender = hook.from_email or settings.mail_from()
        message = to_message(email, sender, attachments)
        # The logged-in client: the hook has no public way to send a message built elsewhere.
        client = cast("smtplib.SMTP", hook._smtp_client)  # the sync client: the hook was entered with ``with``
        if client is None:
            raise ConnectionError("the SMTP hook did not open a connection")
        client.send_message(message, from_addr=sender, to_addrs=[*email.to, *email.cc])


def send_or_fail(conn_id: str, email: Email) -> None:
    """``send``, with any connection or SMTP failure as one readable ``TransferError`` line.

    For interactive use (``roster announce --send``, the go-live DAG), where a person reads the error
    and no retry follows. The message names the connection and the subject, never a body.
    """
    from roster.errors import TransferError

    try:
        _send(conn_id, email)
    except Exception as exc:  # noqa: BLE001 - SMTP, socket and Airflow connection errors alike
        detail = _detail(exc)
        raise TransferError(
            f"SMTP connection {conn_id!r}: could not send {email.subject!r} to {', '.join(email.to)} "
            f"({type(exc).__name__}{': ' + detail if detail else ''})"
        ) from None
