"""What to fix, per reason code: the facts the QA email and the nightly summary give the point person.

For each reason of the night: its rows, the field, the catalog's fix text, what a valid value looks
like for this district (its date format with an example, its State Test Number pattern, its status
words, the age range), and, for the code reasons, the offending codes with their rows and the
cross-match table to add them to. Nothing here sees a student's name or date of birth: only the
report's counts and codes and the rejects' first field per reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from roster.config import DEFAULT_STATE_ID_PATTERN, District
from roster.night.qa import QaReport
from roster.rules.catalog import MAX_AGE, MIN_AGE, REASONS
from roster.rules.offending import CODE_REASONS

#: An example date for the expected date format (a day above 12, so day and month cannot be confused).
EXAMPLE_DATE = dt.date(2014, 1, 31)
_FORMAT_WORDS = {"%m": "MM", "%d": "DD", "%Y": "YYYY", "%y": "YY", "%b": "Mon", "%B": "Month", "%j": "DDD"}
#: reason -> the cross-match table (file in the district's ``crossmatch`` folder) a code belongs in.
TABLE_OF_REASON = {
    "unknown_grade": "grades.csv",
    "unknown_campus": "campuses.csv",
    "unknown_diagnosis": "diagnoses.csv",
}


@dataclass(frozen=True)
class Advice:
    """One reason of the night as the emails show it."""

    code: str
    count: int
    field: str
    instruction: str
    #: What a valid value looks like, in words ("" when the fix text says it all).
    expected: str = ""
    #: For a code reason: the offending codes as shown (``[masked]`` for a value that is not a code) -> rows.
    values: dict[str, int] = dataclasses.field(default_factory=dict)
    #: For a grade, campus or diagnosis code: the cross-match table to add the codes to.
    table: str = ""


def date_format_words(date_format: str) -> str:
    """``%m/%d/%Y`` as ``MM/DD/YYYY, such as 01/31/2014``."""
    words = date_format
    for code, word in _FORMAT_WORDS.items():
        words = words.replace(code, word)
    return f"{words}, such as {EXAMPLE_DATE.strftime(date_format)}"


def state_id_words(pattern: str) -> str:
    if pattern == DEFAULT_STATE_ID_PATTERN:
        return "4 to 20 letters or digits, no spaces or punctuation (pattern ^[0-9A-Za-z]{4,20}$)"
    return f"the district's State Test Number pattern {pattern}"


def status_words(district: District) -> str:
    values = district.source.status_values
    return f"active: {', '.join(values.active)}; inactive: {', '.join(values.inactive)}"


def expected_value(code: str, district: District) -> str:
    """What a valid value of this reason's field looks like for ``district`` ("" when nothing to add)."""
    date_words = f"dates written {date_format_words(district.source.date_format)}"
    return {
        "missing_state_id": f"State Test Numbers are {state_id_words(district.source.state_id_pattern)}",
        "bad_state_id": f"State Test Numbers are {state_id_words(district.source.state_id_pattern)}",
        "bad_date_of_birth": date_words,
        "bad_date": date_words,
        "age_out_of_range": f"students aged {MIN_AGE} to {MAX_AGE} on the roster date, born as {date_words}",
        "unknown_status": f"status words {status_words(district)}",
    }.get(code, "")


def advice_for(district: District, report: QaReport, rejects: list[dict]) -> list[Advice]:
    """The night's reasons, most rows first; ``rejects`` are rejects.csv rows (for each reason's field)."""
    fields: dict[str, str] = {}
    for r in rejects:
        fields.setdefault(r["reason"], r["field"])
    table_folder = district.crossmatch.rstrip("/")
    out = []
    for code, count in sorted(report.rejects_by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
        table = TABLE_OF_REASON.get(code, "")
        out.append(
            Advice(
                code=code,
                count=count,
                field=fields.get(code, CODE_REASONS.get(code, "")),
                instruction=REASONS.get(code, ""),
                expected=expected_value(code, district),
                values=dict(report.offending_values.get(code, {})),
                table=f"{table_folder}/{table}" if table else "",
            )
        )
    return out


@dataclass(frozen=True)
class Contact:
    """Who the point person asks about a fix, as the emails show it."""

    addresses: tuple[str, ...]
    #: The person's name ("" when the district file gives none: the emails show the addresses alone).
    name: str = ""

    @property
    def text(self) -> str:
        """``Jane Doe (jane@example.org)``, or the addresses alone without a name."""
        addresses = ", ".join(self.addresses)
        return f"{self.name} ({addresses})" if self.name else addresses


def contact(district: District) -> Contact | None:
    """Who the point person asks: the coordinator (by name when ``contacts.coordinator_name`` is set),
    else the data team on call; None when the district file lists neither."""
    contacts = district.contacts
    if contacts.coordinator:
        return Contact(tuple(contacts.coordinator), contacts.coordinator_name or "")
    if contacts.oncall:
        return Contact(tuple(contacts.oncall))
    return None
