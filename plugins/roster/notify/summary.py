"""Whether a delivered night's summary goes to the point person, and why (``notify.summary``).

``always``: every delivered night. ``on_rejects`` (the default): a delivered night worth a look:
some rows were rejected (a rejected new student is missing at the vendor until fixed), the night
was held and then approved, or a student came back under a new State Test Number. ``never``: none.
A night that was not delivered sends no summary: a failed night has its QA email, a held one its
hold email, and a night archived behind a newer one changed nothing at the vendor.
"""

from __future__ import annotations

from roster.config import District
from roster.night.qa import QaReport


def summary_reason(district: District, report: QaReport) -> str | None:
    """The sentence opening the summary when it is to be sent, else None."""
    if not report.passed or not report.rows_delivered or report.superseded_by:
        return None
    mode = district.notify.summary
    if mode == "never":
        return None
    worth = _worth_a_look(report)
    if worth:
        return worth
    if mode == "always":
        return (
            "Nothing needs fixing tonight; this summary is sent after every delivered night (notify.summary: always)."
        )
    return None


def _worth_a_look(report: QaReport) -> str | None:
    """Every reason tonight is worth a look, as sentences, or None."""
    changes = report.changes
    found = []
    if report.rows_rejected:
        rows = report.rows_rejected
        were = "were" if rows != 1 else "was"
        found.append(
            f"{rows} row{'s' if rows != 1 else ''} of the export {were} rejected and not sent: see what to fix below."
        )
    if report.approved_by or (changes is not None and changes.held):
        found.append("Tonight's changes crossed a review threshold and the roster was approved before it was sent.")
    if changes is not None and changes.state_id_changed:
        n = changes.state_id_changed
        found.append(
            f"{n} student{'s' if n != 1 else ''} came back under a new State Test Number: check that the SIS is right."
        )
    return " ".join(found) or None
