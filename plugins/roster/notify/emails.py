"""Emails to people, rendered from Jinja templates in ``include/templates/`` that a district can edit.

Only counts, reason codes, row numbers and State Test Numbers reach a template; the renderer never
sees names or dates of birth, so no template edit can leak them.
"""

from __future__ import annotations

import email.policy
import mimetypes
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import jinja2

from roster.config import District
from roster.errors import ConfigError
from roster.night.qa import QaReport
from roster.notify.advice import advice_for, contact

MAX_LISTED = 200
#: State Test Numbers listed on the Required Actions page (the email lists more, changes.csv all).
MAX_REVIEW_LISTED = 20


@dataclass(frozen=True)
class Email:
    """One message: sent as multipart/alternative, the plain-text part first and the HTML part preferred."""

    to: list[str]
    cc: list[str]
    subject: str
    html: str
    #: The plain-text part, from ``<name>.txt.j2``; None while a template has no text twin.
    text: str | None = None


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str | None


#: SMTP line endings; headers folded at 998 characters, the limit of RFC 5322, not at 78.
_POLICY = email.policy.SMTP.clone(max_line_length=998)


def to_message(mail: Email, from_addr: str, attachments: list[Path] | None = None) -> EmailMessage:
    """``mail`` as a standard message: multipart/alternative (text, then the preferred HTML), inside
    multipart/mixed with the attachments when there are some. HTML only while a template has no text twin."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = from_addr
    message["To"] = ", ".join(mail.to)
    if mail.cc:
        message["Cc"] = ", ".join(mail.cc)
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="roster.invalid")
    if mail.text is not None:
        message.set_content(mail.text, charset="utf-8", cte="quoted-printable")
        message.add_alternative(mail.html, subtype="html", charset="utf-8", cte="quoted-printable")
    else:
        message.set_content(mail.html, subtype="html", charset="utf-8", cte="quoted-printable")
    for path in attachments or []:
        maintype, subtype = (mimetypes.guess_type(path.name)[0] or "application/octet-stream").split("/")
        message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return message


def _environment(root: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(root / "templates"),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


def render(root: Path, name: str, **context: object) -> Rendered:
    """``<name>.subject.j2``, ``<name>.html.j2`` and ``<name>.txt.j2`` (when present) rendered with ``context``."""
    env = _environment(root)
    try:
        subject = env.get_template(f"{name}.subject.j2").render(**context).strip()
        html = env.get_template(f"{name}.html.j2").render(**context)
        has_text = (root / "templates" / f"{name}.txt.j2").is_file()
        text = env.get_template(f"{name}.txt.j2").render(**context) if has_text else None
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(f"{root / 'templates' / str(exc.name)}: email template not found") from None
    except jinja2.TemplateError as exc:
        lineno = getattr(exc, "lineno", None)  # only syntax errors carry one
        where = f" line {lineno}" if lineno else ""
        raise ConfigError(f"{root / 'templates'}/{name}:{where} template error: {exc}") from None
    return Rendered(" ".join(subject.split()), html, text)


def _shown_rejects(rejects: list[dict], missing: frozenset[str] = frozenset()) -> list[dict]:
    """The first rejects.csv rows with only their four columns, each marked ``new`` when never delivered."""
    allowed = ("row_number", "state_test_number", "field", "reason")
    return [{**{k: r[k] for k in allowed}, "new": r["state_test_number"] in missing} for r in rejects[:MAX_LISTED]]


def _fix_email(
    root: Path,
    name: str,
    district: District,
    report: QaReport,
    rejects: list[dict],
    run_location: str,
    never_delivered: list[str] | None = None,
    **extra: object,
) -> Email:
    """An email telling the point person (cc the coordinator) what to fix: template ``name`` with the
    night's reasons, its first rejects (``new`` when in ``never_delivered``), the contact and ``extra``."""
    shown = _shown_rejects(rejects, frozenset(never_delivered or ()))
    rendered = render(
        root,
        name,
        district=district,
        report=report,
        reasons=advice_for(district, report, rejects),
        rejects=shown,
        rejects_total=len(rejects),
        rejects_shown=len(shown),
        contact=contact(district),
        run_location=run_location,
        **extra,
    )
    return Email(
        to=list(district.contacts.point_person),
        cc=list(district.contacts.coordinator),
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
    )


def qa_failure(root: Path, district: District, report: QaReport, rejects: list[dict], run_location: str) -> Email:
    """The QA-failure email: to the point person, cc the coordinator.

    ``rejects`` are rejects.csv rows (row_number, state_test_number, field, reason) and nothing else.
    """
    return _fix_email(root, "qa_failed", district, report, rejects, run_location)


def nightly_summary(
    root: Path,
    district: District,
    report: QaReport,
    rejects: list[dict],
    missing: list[str],
    why: str,
    run_location: str,
) -> Email:
    """The summary after a delivered night: to the point person, cc the coordinator.

    ``rejects`` are rejects.csv rows; ``missing`` the State Test Numbers rejected tonight that were never
    delivered (missing at the vendor until fixed); ``why`` the sentence saying why this summary was sent.
    """
    return _fix_email(
        root,
        "nightly_summary",
        district,
        report,
        rejects,
        run_location,
        missing,
        changes=report.changes,
        why=why,
        missing=missing[:MAX_LISTED],
        missing_total=len(missing),
    )


#: Change kinds a reviewer must see by id in a hold email, most consequential first.
HOLD_KINDS = ("state_id_changed", "deactivated", "identity_changed", "other_changed", "reactivated", "added")


def concerned_changes(changes: list[dict]) -> list[dict]:
    """The changes.csv rows a hold is about, the kinds that most need a look first, by State Test Number."""
    rank = {kind: i for i, kind in enumerate(HOLD_KINDS)}
    return sorted(
        (c for c in changes if c["change"] in rank), key=lambda c: (rank[c["change"]], c["state_test_number"])
    )


def hold_review(
    root: Path, district: District, report: QaReport, changes: list[dict], rosters_url: str
) -> tuple[str, str]:
    """The subject and Markdown body of a held night's request on Airflow's Required Actions page."""
    summary = report.changes
    assert summary is not None, "a night is held only after build_roster wrote its changes section"
    concerned = concerned_changes(changes)
    env = _environment(root)
    context = {
        "district": district,
        "report": report,
        "changes": summary,
        "reasons": summary.hold_reasons,
        "concerned": [{k: c[k] for k in ("state_test_number", "change")} for c in concerned[:MAX_REVIEW_LISTED]],
        "concerned_total": len(concerned),
        "rosters_url": rosters_url,
        "hold_timeout": _duration_words(district.qa.hold_timeout),
    }
    try:
        subject = env.get_template("hold_review.subject.j2").render(**context).strip()
        body = env.get_template("hold_review.md.j2").render(**context).strip()
    except jinja2.TemplateError as exc:
        raise ConfigError(f"{root / 'templates'}: hold_review template: {exc}") from None
    return subject, body


def hold_notice(
    root: Path, district: District, report: QaReport, changes: list[dict], run_location: str, run_ref: str
) -> Email:
    """The hold email: to the point person, cc the coordinator and on-call, in one message.

    ``changes`` are changes.csv rows (state_test_number, change, fields) and nothing else.
    """
    concerned = concerned_changes(changes)
    summary = report.changes
    assert summary is not None, "a night is held only after build_roster wrote its changes section"
    rendered = render(
        root,
        "hold",
        district=district,
        report=report,
        changes=summary,
        reasons=summary.hold_reasons,
        concerned=[{k: c[k] for k in ("state_test_number", "change", "fields")} for c in concerned[:MAX_LISTED]],
        concerned_total=len(concerned),
        run_ref=run_ref,
        run_location=run_location,
        hold_timeout=_duration_words(district.qa.hold_timeout),
    )
    cc = list(dict.fromkeys([*district.contacts.coordinator, *district.contacts.oncall]))
    return Email(
        to=list(district.contacts.point_person), cc=cc, subject=rendered.subject, html=rendered.html, text=rendered.text
    )


def _duration_words(delta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


def oncall_failure(root: Path, district: District, **facts: object) -> Email:
    """The on-call email for a failed task (see ``roster.airflow.notifications``)."""
    rendered = render(root, "oncall_failure", district=district, **facts)
    return Email(
        to=list(district.contacts.oncall), cc=[], subject=rendered.subject, html=rendered.html, text=rendered.text
    )


def watchdog_alert(root: Path, stale: list, hours: float, checked_at: str, to: list[str]) -> Email:
    """The watchdog's email to on-call about stale districts."""
    rendered = render(root, "watchdog", stale=stale, hours=f"{hours:g}", checked_at=checked_at)
    return Email(to=to, cc=[], subject=rendered.subject, html=rendered.html, text=rendered.text)
