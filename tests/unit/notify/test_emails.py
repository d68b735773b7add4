"""The QA-failure email and the nightly summary as rendered: the contact by name, the honest fallback
without one, and the new students missing at the vendor."""

from __future__ import annotations

import re
from pathlib import Path

from roster.io import report_csv
from roster.night.pipeline import never_delivered
from roster.night.qa import judge, load_report
from roster.notify.emails import Email, nightly_summary, qa_failure
from tests.domain_fixtures import (
    INCLUDE,
    KNOWN_REJECTED,
    NEW_REJECTED,
    ROSTER_DATE,
    make_district,
    second_night_with_rejects,
)

COORDINATOR = "coordinator@example.org"
LINKED = f'<a href="mailto:{COORDINATOR}">{COORDINATOR}</a>'
REJECTS = [
    {"row_number": str(i + 2), "state_test_number": f"00012{i:02d}", "field": "grade", "reason": "unknown_grade"}
    for i in range(3)
]


def _qa_failure(changes: dict) -> Email:
    report = judge(
        district_id="sample_isd",
        roster_date=ROSTER_DATE,
        rows_read=10,
        rows_rejected=len(REJECTS),
        rejects_by_reason={"unknown_grade": len(REJECTS)},
        max_reject_rate=0.05,
        source_file="export.csv",
        output_file="out.txt",
    )
    assert not report.passed
    return qa_failure(INCLUDE, make_district(changes), report, REJECTS, "/runs/sample_isd/2026-11-20")


def _text(email: Email) -> str:
    assert email.text is not None
    return email.text


def test_the_qa_email_names_the_coordinator_in_both_parts() -> None:
    email = _qa_failure({"contacts.coordinator_name": "Jane Doe"})
    text = _text(email)
    assert f"Questions about a code or a fix: Jane Doe ({COORDINATOR})" in text
    assert f"fix the data and ask Jane Doe ({COORDINATOR}) to re-run 2026-11-20." in text
    assert f"Questions about a code or a fix: Jane Doe ({LINKED})." in email.html
    assert f"fix the data and ask Jane Doe ({LINKED}) to re-run 2026-11-20." in email.html
    assert email.cc == [COORDINATOR]  # the headers keep the bare addresses


def test_without_a_name_the_address_alone_then_oncall() -> None:
    text = _text(_qa_failure({}))
    assert f"Questions about a code or a fix: {COORDINATOR}\n" in text
    assert f"ask {COORDINATOR} to re-run 2026-11-20." in text
    email = _qa_failure({"contacts.coordinator": []})
    assert "ask data-oncall@example.org to re-run" in _text(email)
    assert 'ask <a href="mailto:data-oncall@example.org">data-oncall@example.org</a> to re-run' in email.html


def test_without_any_contact_the_email_says_which_key_to_set() -> None:
    email = _qa_failure({"contacts.coordinator": [], "contacts.oncall": []})
    text = _text(email)
    for part in (text, email.html):
        assert "data team" not in part and "Questions about a code" not in part
        flat = " ".join(re.sub(r"</?code>", "", part).split())
        assert (
            "ask whoever runs this roster pipeline to re-run 2026-11-20 (this email names no contact: the district "
            "file include/districts/sample_isd.yaml sets no address in contacts.coordinator or contacts.oncall)."
        ) in flat


def test_the_summary_lists_the_new_students_missing_at_the_vendor(tmp_path: Path) -> None:
    night, out = second_night_with_rejects(tmp_path)
    district = make_district({"contacts.coordinator_name": "Jane Doe"})
    report = load_report(out).delivered(remote_path="/upload/sample_isd/x.txt", mode="live")
    rejects = report_csv.read_rows(out / "rejects.csv")
    missing = never_delivered(night, out, rejects)
    email = nightly_summary(INCLUDE, district, report, rejects, missing, "3 rows were rejected.", "/runs/x")

    assert email.subject.endswith("3 rows rejected (1 new student missing at Rethink Ed)")
    text = _text(email)
    block = text.split("NEW STUDENTS MISSING AT RETHINK ED\n", 1)[1].split("\n\n", 1)[0]
    assert block.startswith("1 student rejected tonight has never been delivered")
    assert block.splitlines()[-1] == NEW_REJECTED  # the State Test Numbers, and only the new one
    assert KNOWN_REJECTED not in block
    marked = {line.split()[1] for line in text.splitlines() if line.endswith("NEW: missing at Rethink Ed")}
    assert marked == {NEW_REJECTED}
    assert f"Questions about a code or a fix: Jane Doe ({COORDINATOR})" in text

    html = email.html
    section = html.split("<h3>New students missing at Rethink Ed</h3>", 1)[1].split("</p>", 1)[0]
    assert re.findall(r"<code>([^<]*)</code>", section) == [NEW_REJECTED]
    assert "1 student rejected tonight has never been delivered" in section
    assert f"<td>{NEW_REJECTED}</td><td>grade</td><td>unknown_grade</td><td>yes: missing at Rethink Ed</td>" in html
    assert f"<td>{KNOWN_REJECTED}</td><td>grade</td><td>unknown_grade</td><td></td>" in html
    assert f"Questions about a code or a fix: Jane Doe ({LINKED})." in html
    assert [name for name in ("Maria", "Gonzalez", "03/14/2015") if name in text or name in html] == []
