"""``never_delivered``: which students rejected tonight the vendor has never been sent."""

from __future__ import annotations

from pathlib import Path

from domain_fixtures import KNOWN_REJECTED, NEW_REJECTED, make_night, second_night_with_rejects
from roster.io import report_csv
from roster.io.roster_file import roster_ids
from roster.night.pipeline import never_delivered
from roster.rules.model import MASKED_ID


def test_a_rejected_student_already_delivered_is_not_new_a_first_seen_one_is(tmp_path: Path) -> None:
    night, out = second_night_with_rejects(tmp_path)
    rejects = report_csv.read_rows(out / "rejects.csv")
    assert {r["state_test_number"] for r in rejects} == {KNOWN_REJECTED, NEW_REJECTED, ""}
    # The student delivered last night is carried in tonight's file as last delivered; the new one is not.
    ids = roster_ids(out / night.output_name, night.layout)
    assert KNOWN_REJECTED in ids and NEW_REJECTED not in ids
    # The empty State Test Number names no student: it is not listed.
    assert never_delivered(night, out, rejects) == [NEW_REJECTED]
    # Nor does a masked one (a value that may be student data, never echoed).
    masked = {
        "row_number": "99",
        "state_test_number": MASKED_ID,
        "field": "state_test_number",
        "reason": "bad_state_id",
    }
    assert never_delivered(night, out, [*rejects, masked]) == [NEW_REJECTED]


def test_nothing_rejected_nothing_missing(tmp_path: Path) -> None:
    # Without a reject the roster file is not even read.
    assert never_delivered(make_night(), tmp_path / "no such folder", []) == []
