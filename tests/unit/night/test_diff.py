"""The nightly diff on small hand-made rosters: each kind of change, carried students, threshold edges."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from roster.config import Layout
from roster.night.diff import compare, judge_changes, with_carried

LAYOUT = Layout.model_validate(
    {
        "name": "t",
        "status_words": {"active": "Active", "inactive": "Inactive"},
        "columns": [
            {"header": "Id", "field": "state_test_number"},
            {"header": "First", "field": "legal_first_name"},
            {"header": "Last", "field": "legal_last_name"},
            {"header": "DOB", "field": "date_of_birth"},
            {"header": "Grade", "field": "grade"},
            {"header": "Campus", "field": "campus"},
            {"header": "Status", "field": "status"},
        ],
    }
)
NIGHT = dt.date(2026, 11, 20)


def roster(*rows: tuple[str, str, str, str, str, str, str], carried_since: list[str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows,
        columns=[
            "state_test_number",
            "legal_first_name",
            "legal_last_name",
            "date_of_birth",
            "grade",
            "campus",
            "status",
        ],
        dtype="str",
    )
    frame["active"] = (frame["status"] == "Active").to_numpy(dtype=bool)
    if carried_since is not None:
        frame["carried_since"] = pd.array(carried_since, dtype="str")
    return frame


A = ("1001", "Ana", "Smith", "01/02/2015", "5", "S1", "Active")
B = ("1002", "Ben", "Jones", "03/04/2014", "6", "S2", "Active")
C = ("1003", "Cy", "Lee", "05/06/2013", "7", "S2", "Active")
D = ("1004", "Di", "Kim", "07/08/2012", "8", "S3", "Inactive")


def _by_kind(diff) -> dict[str, list[str]]:
    return {kind: sorted(g["state_test_number"]) for kind, g in diff.changes.groupby("change")}


def test_each_kind_of_change() -> None:
    previous = roster(A, B, C, D, carried_since=["", "", "", ""])
    tonight = roster(
        ("1001", "Ana", "Smith", "01/02/2015", "6", "S1", "Active"),  # other field changed: grade
        ("1002", "Benjamin", "Jones", "03/04/2014", "6", "S2", "Active"),  # identity changed: first name
        ("1003", "Cy", "Lee", "05/06/2013", "7", "S2", "Inactive"),  # deactivated
        ("1004", "Di", "Kim", "07/08/2012", "8", "S3", "Active"),  # reactivated
        ("1005", "Ed", "Ng", "09/10/2011", "9", "S3", "Active"),  # added
    )
    diff = compare(tonight, previous, LAYOUT, NIGHT, carry_days=365)

    assert _by_kind(diff) == {
        "added": ["1005"],
        "deactivated": ["1003"],
        "identity_changed": ["1002"],
        "other_changed": ["1001"],
        "reactivated": ["1004"],
    }
    fields = dict(
        zip(diff.changes["state_test_number"] + ":" + diff.changes["change"], diff.changes["fields"], strict=True)
    )
    assert fields["1001:other_changed"] == "grade"
    assert fields["1002:identity_changed"] == "legal_first_name"
    assert diff.counts["carried"] == 0 and diff.carried.empty
    assert diff.previous_students == 4 and diff.previous_active == 3
    assert diff.deactivation_rate == pytest.approx(1 / 3)
    assert diff.change_rate == pytest.approx(2 / 4)


def test_a_changed_date_of_birth_is_an_identity_change_listing_the_field() -> None:
    previous = roster(A)
    tonight = roster(("1001", "Ana", "Smith", "01/03/2015", "5", "S1", "Active"))
    diff = compare(tonight, previous, LAYOUT, NIGHT, carry_days=365)
    assert diff.changes.to_dict("records") == [
        {"state_test_number": "1001", "change": "identity_changed", "fields": "date_of_birth"}
    ]


def test_absent_active_student_is_carried_as_inactive_with_last_values() -> None:
    previous = roster(A, B)
    tonight = roster(A)
    diff = compare(tonight, previous, LAYOUT, NIGHT, carry_days=365)

    assert _by_kind(diff) == {"carried": ["1002"], "deactivated": ["1002"]}
    full = with_carried(tonight, diff)
    carried = full[full["state_test_number"] == "1002"].iloc[0]
    assert carried["status"] == "Inactive" and not carried["active"]
    assert (carried["legal_first_name"], carried["grade"], carried["campus"]) == ("Ben", "6", "S2")
    assert carried["carried_since"] == "2026-11-20"
    assert full[full["state_test_number"] == "1001"].iloc[0]["carried_since"] == ""


def test_carried_students_keep_their_first_carried_date_then_drop_after_carry_days() -> None:
    previous = roster(
        A, ("1002", "Ben", "Jones", "03/04/2014", "6", "S2", "Inactive"), carried_since=["", "2026-11-10"]
    )
    tonight = roster(A)

    within = compare(tonight, previous, LAYOUT, NIGHT, carry_days=10)
    assert _by_kind(within) == {"carried": ["1002"]}  # already inactive: not a new deactivation
    assert within.carried.iloc[0]["carried_since"] == "2026-11-10"

    past = compare(tonight, previous, LAYOUT, NIGHT, carry_days=9)
    assert _by_kind(past) == {"dropped": ["1002"]}
    assert with_carried(tonight, past)["state_test_number"].tolist() == ["1001"]


def test_a_rejected_student_is_retained_unchanged_not_deactivated() -> None:
    previous = roster(A, B)
    tonight = roster(A)
    diff = compare(tonight, previous, LAYOUT, NIGHT, carry_days=365, rejected_ids=frozenset({"1002"}))

    assert _by_kind(diff) == {"retained": ["1002"]}
    assert diff.deactivation_rate == 0.0
    kept = with_carried(tonight, diff).set_index("state_test_number").loc["1002"]
    assert kept["status"] == "Active" and kept["active"] and kept["carried_since"] == ""


def test_first_night_is_never_held() -> None:
    diff = judge_changes(compare(roster(A, B), None, LAYOUT, NIGHT, carry_days=365), 0.0, 0.0)
    assert diff.first_night and not diff.held
    assert diff.counts["added"] == 2


def _ten_active() -> pd.DataFrame:
    return roster(*[(f"{2000 + i}", "N", "M", "01/02/2015", "5", "S1", "Active") for i in range(10)])


@pytest.mark.parametrize(("gone", "held"), [(1, False), (2, True)])
def test_deactivation_threshold_exactly_at_the_rate_passes(gone: int, held: bool) -> None:
    previous = _ten_active()
    tonight = previous.iloc[gone:].reset_index(drop=True)
    diff = judge_changes(
        compare(tonight, previous, LAYOUT, NIGHT, carry_days=365), max_deactivation_rate=0.10, max_change_rate=0.75
    )
    assert diff.deactivation_rate == pytest.approx(gone / 10)
    assert diff.held is held
    assert bool(diff.hold_reasons) is held


@pytest.mark.parametrize(("changed", "held"), [(5, False), (6, True)])
def test_change_threshold_exactly_at_the_rate_passes(changed: int, held: bool) -> None:
    previous = _ten_active()
    tonight = previous.copy()
    tonight.loc[: changed - 1, "grade"] = "6"
    diff = judge_changes(
        compare(tonight, previous, LAYOUT, NIGHT, carry_days=365), max_deactivation_rate=0.10, max_change_rate=0.5
    )
    assert diff.change_rate == pytest.approx(changed / 10)
    assert diff.held is held


def test_summary_has_counts_and_rates_but_no_ids() -> None:
    diff = judge_changes(compare(roster(A), roster(A, B), LAYOUT, NIGHT, carry_days=365), 0.1, 0.75)
    summary = diff.summary()
    assert summary.deactivated == 1 and summary.held is True
    assert "1002" not in repr(summary)


def test_roster_run_previous_shows_the_diff_and_holds_offline(tmp_path) -> None:
    """``roster run --previous`` judges tonight against a delivered file: held → exit 1, no file."""
    import json

    from conftest import INCLUDE
    from roster.cli import main

    export = INCLUDE / "inbound" / "sample_isd" / "roster_20261120.csv"
    night1 = tmp_path / "night1"
    assert (
        main(["run", "--district", "sample_isd", "--input", str(export), "--out", str(night1), "--date", "2026-11-20"])
        == 0
    )
    delivered = night1 / "sample_isd_roster_20261120.txt"
    truncated = tmp_path / "half.csv"
    truncated.write_bytes(b"\r\n".join(export.read_bytes().split(b"\r\n")[:151]) + b"\r\n")

    night2 = tmp_path / "night2"
    args = [
        "run",
        "--district",
        "sample_isd",
        "--input",
        str(truncated),
        "--out",
        str(night2),
        "--date",
        "2026-11-21",
        "--previous",
        str(delivered),
    ]
    assert main(args) == 1
    report = json.loads((night2 / "qa_report.json").read_text())
    assert report["held"] is True and report["rows_delivered"] == 0
    assert report["changes"]["deactivated"] == 134 and report["changes"]["carried"] == 143
    assert not (night2 / "sample_isd_roster_20261121.txt").exists()
    assert (night2 / "changes.csv").read_text().splitlines()[0] == "state_test_number,change,fields"

    assert main([*args, "--approve-hold"]) == 0
    lines = (night2 / "sample_isd_roster_20261121.txt").read_bytes().decode().split("\r\n")
    assert len([line for line in lines[1:] if line]) == 286  # every student of night 1 is still there
    assert json.loads((night2 / "qa_report.json").read_text())["rows_delivered"] == 286


def test_roster_run_previous_rejects_a_file_of_another_layout(tmp_path, capsys) -> None:
    from conftest import INCLUDE
    from roster.cli import main

    bogus = tmp_path / "prev.txt"
    bogus.write_text("a|b\n1|2\n")
    export = INCLUDE / "inbound" / "sample_isd" / "roster_20261120.csv"
    code = main(
        [
            "run",
            "--district",
            "sample_isd",
            "--input",
            str(export),
            "--out",
            str(tmp_path / "o"),
            "--date",
            "2026-11-20",
            "--previous",
            str(bogus),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "prev.txt" in err[0] and "line 1" in err[0]
