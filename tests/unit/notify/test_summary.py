"""Which delivered nights send the point person a summary (``notify.summary``)."""

from __future__ import annotations

import dataclasses

import pytest

from roster.night.qa import ChangeSummary, judge
from roster.notify.summary import summary_reason
from tests.domain_fixtures import ROSTER_DATE, make_district


def _report(rejected: int = 0, *, delivered: bool = True, passed: bool = True, **changes: object):
    report = judge(
        district_id="sample_isd",
        roster_date=ROSTER_DATE,
        rows_read=100,
        rows_rejected=rejected,
        rejects_by_reason={"unknown_grade": rejected} if rejected else {},
        max_reject_rate=0.05 if passed else 0.0,
        source_file="export.csv",
        output_file="out.txt",
    )
    summary = ChangeSummary(
        added=0,
        deactivated=0,
        reactivated=0,
        identity_changed=0,
        other_changed=0,
        carried=0,
        dropped=0,
        retained=0,
        previous_students=100,
        previous_active=100,
        deactivation_rate=0.0,
        change_rate=0.0,
        first_night=False,
        held=False,
    )
    report = report.serialized(dataclasses.replace(summary, **changes), rows_in_file=100 - rejected)
    return report.delivered(remote_path="/upload/x.txt", mode="live") if delivered else report


@pytest.mark.parametrize(
    ("mode", "rejected", "sent"),
    [
        ("on_rejects", 3, True),
        ("on_rejects", 0, False),
        ("always", 0, True),
        ("always", 3, True),
        ("never", 3, False),
        ("never", 0, False),
    ],
)
def test_modes(mode: str, rejected: int, sent: bool) -> None:
    district = make_district({"notify": {"summary": mode}})
    assert (summary_reason(district, _report(rejected)) is not None) is sent


def test_the_reason_says_why() -> None:
    district = make_district()
    assert (
        summary_reason(district, _report(3))
        == "3 rows of the export were rejected and not sent: see what to fix below."
    )
    assert (
        summary_reason(district, _report(1)) == "1 row of the export was rejected and not sent: see what to fix below."
    )
    assert "approved" in (summary_reason(district, _report(0, held=True)) or "")
    assert "new State Test Number" in (summary_reason(district, _report(0, state_id_changed=2)) or "")


def test_nights_not_delivered_send_no_summary() -> None:
    district = make_district({"notify": {"summary": "always"}})
    assert summary_reason(district, _report(3, delivered=False)) is None
    assert summary_reason(district, _report(3).superseded(ROSTER_DATE)) is None
