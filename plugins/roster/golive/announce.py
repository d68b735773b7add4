"""The go-live announcement emails (``roster announce``): one to teachers, one to administrators.

Both are rendered from templates a district can edit, ``include/templates/announce_teachers.*.j2``
and ``announce_administrators.*.j2`` (subject and HTML body), and written as ``.eml`` files that any
mail program opens, so the point person can read exactly what will go out before ``--send``.
Sending is the Airflow layer's job (``roster.airflow.hooks.smtp``, the SMTP provider); this module only
renders and writes. The templates see the district and its contacts, never student data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from roster import settings
from roster.config import District
from roster.errors import ConfigError
from roster.io import artifacts
from roster.notify.emails import Email, render, to_message

#: audience -> (template name, the contacts key listing its recipients)
AUDIENCES = {
    "teachers": ("announce_teachers", "teachers"),
    "administrators": ("announce_administrators", "administrators"),
}
#: CRLF lines as on the wire; headers kept on one line (up to RFC 5322's 998), because the standard
#: library's folding of a long subject adds a stray leading space when it is parsed back.


@dataclass(frozen=True)
class Announcement:
    audience: str
    email: Email

    @property
    def filename(self) -> str:
        return f"{AUDIENCES[self.audience][0]}.eml"


def _context(district: District) -> dict[str, object]:
    mapped = district.source.columns.mapped()
    return {
        "district": district,
        "point_person": list(district.contacts.point_person),
        "coordinator": list(district.contacts.coordinator),
        # The new score process depends on whether the SIS export carries the scores.
        "scores_from_sis": "ela_score" in mapped and "math_score" in mapped,
        "ela_from_sis": "ela_score" in mapped,
        "math_from_sis": "math_score" in mapped,
    }


def announcements(root: Path, district: District) -> list[Announcement]:
    """Both emails, rendered; a ``ConfigError`` naming the key when an audience has no address."""
    district_file = root / "districts" / f"{district.district_id}.yaml"
    out = []
    for audience, (template, key) in AUDIENCES.items():
        recipients = list(getattr(district.contacts, key))
        if not recipients:
            raise ConfigError(
                f"{district_file}: key 'contacts.{key}' is empty; list who gets the go-live email to {audience}"
            )
        rendered = render(root, template, **_context(district))
        email = Email(to=recipients, cc=[], subject=rendered.subject, html=rendered.html, text=rendered.text)
        out.append(Announcement(audience, email))
    return out


def sender() -> str:
    """The ``From`` of the previews: ``ROSTER_MAIL_FROM``, else a placeholder (sending uses the connection's)."""
    return settings.mail_from()


def write_previews(items: list[Announcement], out_dir: Path, from_addr: str | None = None) -> list[Path]:
    """Each announcement as ``<out_dir>/<template>.eml``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        artifacts.write_bytes(out_dir / a.filename, to_message(a.email, from_addr or sender()).as_bytes())
        for a in items
    ]


__all__ = ["AUDIENCES", "Announcement", "announcements", "sender", "write_previews"]
