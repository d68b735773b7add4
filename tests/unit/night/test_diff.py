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
    from domain_fixtures import carried_students
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
    # The delivered students missing from the cut export are carried; those active in the file are deactivated.
    carried, deactivated = carried_students(delivered, truncated)
    assert (carried, deactivated) == (143, 134)  # 286 delivered, 150 rows kept (see the two files)
    assert report["changes"]["deactivated"] == deactivated and report["changes"]["carried"] == carried
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
    # Refused before the export is checked (the file is read only for the diff, its header at once).
    assert not (tmp_path / "o" / "qa_report.json").exists()


def test_pairs_compared_in_steps_find_the_same_changes(monkeypatch) -> None:
    """The joined rows are compared a step of pairs at a time: steps smaller than the night change nothing."""
    import roster.night.diff as diff_module

    students = [(f"{2000 + i}", f"N{i}", "Lee", "05/06/2013", "7", "S2", "Active") for i in range(9)]
    previous = roster(*students)
    changed = {2: ("legal_first_name", 1), 5: ("grade", 4), 8: ("campus", 5)}
    tonight_rows = []
    for i, row in enumerate(reversed(students)):  # another order than last night's
        values = list(row)
        if 8 - i in changed:
            values[changed[8 - i][1]] += "x"
        tonight_rows.append(tuple(values))
    tonight = roster(("1999", "New", "Kid", "01/01/2015", "1", "S1", "Active"), *tonight_rows)
    whole = compare(tonight, previous, LAYOUT, NIGHT, carry_days=365).changes
    monkeypatch.setattr(diff_module, "PAIR_STEP", 2)
    stepped = compare(tonight, previous, LAYOUT, NIGHT, carry_days=365).changes
    pd.testing.assert_frame_equal(stepped, whole)
    assert sorted(zip(whole["state_test_number"], whole["fields"], strict=True)) == [
        ("1999", ""),
        ("2002", "legal_first_name"),
        ("2005", "grade"),
        ("2008", "campus"),
    ]


# State Test Number slips: one student under a new id -------------------------------------------------

#: A layout with the local id and the middle name, as the real layouts have them.
FULL_LAYOUT = Layout.model_validate(
    {
        "name": "full",
        "status_words": {"active": "Active", "inactive": "Inactive"},
        "columns": [
            {"header": "Id", "field": "state_test_number"},
            {"header": "Local", "field": "local_student_id"},
            {"header": "First", "field": "legal_first_name"},
            {"header": "Middle", "field": "legal_middle_name"},
            {"header": "Last", "field": "legal_last_name"},
            {"header": "DOB", "field": "date_of_birth"},
            {"header": "Grade", "field": "grade"},
            {"header": "Status", "field": "status"},
        ],
    }
)
FULL_COLUMNS = [c.field for c in FULL_LAYOUT.columns]


def people(*rows: tuple[str, ...]) -> pd.DataFrame:
    """A roster frame of FULL_LAYOUT: (id, local id, first, middle, last, dob, grade, status)."""
    frame = pd.DataFrame(rows, columns=FULL_COLUMNS, dtype="str")
    frame["active"] = (frame["status"] == "Active").to_numpy(dtype=bool)
    return frame


ANA = ("0012345678", "L77", "Ana", "Maria", "Smith", "01/02/2015", "5", "Active")
BEN = ("0022222222", "L88", "Ben", "", "Jones", "03/04/2014", "6", "Active")


def _renamed(row: tuple[str, ...], new_id: str, **changes: str) -> tuple[str, ...]:
    values = dict(zip(FULL_COLUMNS, row, strict=True))
    return tuple({**values, "state_test_number": new_id, **changes}.values())


def _judged(tonight: pd.DataFrame, previous: pd.DataFrame | None, layout: Layout = FULL_LAYOUT):
    """The diff judged with thresholds no test here reaches: only a slip holds."""
    return judge_changes(compare(tonight, previous, layout, NIGHT, carry_days=365), 1.0, 1.0)


def test_an_id_that_lost_its_leading_zeros_is_one_slip_and_holds_the_night() -> None:
    diff = _judged(people(_renamed(ANA, "12345678"), BEN), people(ANA, BEN))

    assert diff.changes.to_dict("records") == [
        {"state_test_number": "12345678", "change": "state_id_changed", "fields": "state_test_number (was 0012345678)"}
    ]
    # Counted once: not also added, deactivated or carried; it counts toward the change rate.
    assert {k: v for k, v in diff.counts.items() if v} == {"state_id_changed": 1}
    assert diff.change_rate == pytest.approx(1 / 2) and diff.deactivation_rate == 0.0
    assert diff.held and diff.hold_reasons == [
        (
            "1 student appears under a new State Test Number (same legal name and date of birth as a student "
            "delivered last time and absent tonight, and the same local id where both have one); see changes.csv"
        )
    ]
    assert diff.summary().state_id_changed == 1
    # Nothing lost: the new id goes as exported, the earlier one is carried as inactive.
    full = with_carried(people(_renamed(ANA, "12345678"), BEN), diff).set_index("state_test_number")
    assert full.loc["12345678", "active"] and not full.loc["0012345678", "active"]
    assert full.loc["0012345678", "status"] == "Inactive"


def test_the_hold_reason_counts_every_slip() -> None:
    tonight = people(_renamed(ANA, "12345678"), _renamed(BEN, "22222222"))
    diff = _judged(tonight, people(ANA, BEN))
    assert diff.counts["state_id_changed"] == 2
    assert diff.hold_reasons[0].startswith("2 students appear under a new State Test Number")


@pytest.mark.parametrize(
    "changes",
    [
        {"date_of_birth": "01/03/2015"},  # the same name, another birth date
        {"legal_middle_name": "Luisa"},  # another middle name
        {"legal_first_name": "Anna"},
        {"local_student_id": "L78"},  # the same name and birth date, another local id: two students
    ],
    ids=["birth-date", "middle-name", "first-name", "local-id"],
)
def test_another_student_who_only_shares_a_name_is_not_a_slip(changes: dict[str, str]) -> None:
    diff = _judged(people(_renamed(ANA, "0099999999", **changes), BEN), people(ANA, BEN))
    assert _by_kind(diff) == {"added": ["0099999999"], "carried": ["0012345678"], "deactivated": ["0012345678"]}
    assert diff.counts["state_id_changed"] == 0 and not diff.held


@pytest.mark.parametrize(
    ("before_local", "now_local"),
    [("L77", ""), ("", "L77"), ("", ""), ("000987", "987")],
    ids=["none-tonight", "none-before", "none-either", "zeros-lost-too"],
)
def test_name_and_birth_date_match_when_a_side_has_no_local_id(before_local: str, now_local: str) -> None:
    """Without a local id on both sides, the full legal name and birth date decide (module docstring);
    a local id that lost its leading zeros with the State Test Number is still the same local id."""
    previous = people(_renamed(ANA, "0012345678", local_student_id=before_local), BEN)
    diff = _judged(people(_renamed(ANA, "12345678", local_student_id=now_local), BEN), previous)
    assert _by_kind(diff) == {"state_id_changed": ["12345678"]}


def test_a_layout_without_local_ids_matches_on_name_and_birth_date() -> None:
    tonight = roster(("9001", *A[1:]), B)
    diff = _judged(tonight, roster(A, B), LAYOUT)
    assert diff.changes.to_dict("records") == [
        {"state_test_number": "9001", "change": "state_id_changed", "fields": "state_test_number (was 1001)"}
    ]
    assert diff.held


def test_an_ambiguous_match_names_every_candidate_and_picks_none() -> None:
    twin = _renamed(ANA, "0012345679", local_student_id="")  # a second record of Ana, delivered last time
    one_new = _judged(people(_renamed(ANA, "12345678", local_student_id=""), BEN), people(ANA, twin, BEN))
    assert one_new.changes.to_dict("records") == [
        {
            "state_test_number": "12345678",
            "change": "state_id_changed",
            "fields": "state_test_number (was 0012345678 or 0012345679)",
        }
    ]
    assert {k: v for k, v in one_new.counts.items() if v} == {"state_id_changed": 1}
    assert len(one_new.carried) == 2  # both earlier ids carried as inactive: neither is dropped or picked

    two_new = _judged(
        people(_renamed(ANA, "12345678"), _renamed(ANA, "12345679", local_student_id=""), BEN), people(ANA, BEN)
    )
    assert sorted(zip(two_new.changes["state_test_number"], two_new.changes["fields"], strict=True)) == [
        ("12345678", "state_test_number (was 0012345678)"),
        ("12345679", "state_test_number (was 0012345678)"),
    ]
    assert two_new.counts["state_id_changed"] == 2 and two_new.counts["added"] == 0 and two_new.held


def test_a_rejected_row_is_retained_not_a_slip() -> None:
    """The earlier id's row is in tonight's export but rejected: not gone, so not a candidate."""
    diff = _judged(people(_renamed(ANA, "12345678"), BEN), people(ANA, BEN))
    rejected = compare(
        people(_renamed(ANA, "12345678"), BEN), people(ANA, BEN), FULL_LAYOUT, NIGHT, 365, frozenset({"0012345678"})
    )
    assert diff.counts["state_id_changed"] == 1
    assert _by_kind(rejected) == {"added": ["12345678"], "retained": ["0012345678"]}


def test_a_first_night_has_no_slips() -> None:
    diff = _judged(people(ANA, _renamed(ANA, "12345678")), None)
    assert diff.first_night and not diff.held
    assert diff.counts["state_id_changed"] == 0 and diff.counts["added"] == 2


def test_a_report_written_before_state_id_changed_still_loads() -> None:
    from roster.night.qa import QaReport, judge

    report = judge(
        district_id="d",
        roster_date=NIGHT,
        rows_read=2,
        rows_rejected=0,
        rejects_by_reason={},
        max_reject_rate=0.05,
        source_file="e.csv",
        output_file="r.txt",
    ).serialized(_judged(people(ANA), people(ANA)).summary(), rows_in_file=1)
    payload = report.to_json()
    assert payload["changes"].pop("state_id_changed") == 0
    assert QaReport.from_json(payload) == report


def test_roster_run_holds_a_night_whose_ids_lost_their_leading_zeros(tmp_path, capsys) -> None:
    """Night 2's export went through Excel for two students: their ids lost the leading zeros.
    ``roster run --previous`` holds it (exit 1) and ``changes.csv`` names each new id and the earlier one."""
    import csv as csvlib

    from conftest import INCLUDE
    from roster.cli import main

    export = INCLUDE / "inbound" / "sample_isd" / "roster_20261120.csv"
    base = ["run", "--district", "sample_isd", "--out"]
    assert main([*base, str(tmp_path / "n1"), "--input", str(export), "--date", "2026-11-20"]) == 0
    delivered = tmp_path / "n1" / "sample_isd_roster_20261120.txt"
    rows = [line.split("|") for line in delivered.read_text().splitlines()[1:]]
    slipped = [row[0] for row in rows if row[0].startswith("0") and row[10] == "Active"][:2]
    excel = export.read_bytes()
    for old in slipped:
        excel = excel.replace(f"\r\n{old},".encode(), f"\r\n{old.lstrip('0')},".encode())
    (tmp_path / "excel.csv").write_bytes(excel)
    night2 = [*base, str(tmp_path / "n2"), "--input", str(tmp_path / "excel.csv"), "--date", "2026-11-21"]
    capsys.readouterr()

    assert main([*night2, "--previous", str(delivered)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("held: 2 students appear under a new State Test Number")
    with (tmp_path / "n2" / "changes.csv").open(newline="") as handle:
        changes = list(csvlib.DictReader(handle))
    assert changes == sorted(
        (
            {
                "state_test_number": old.lstrip("0"),
                "change": "state_id_changed",
                "fields": f"state_test_number (was {old})",
            }
            for old in slipped
        ),
        key=lambda c: c["state_test_number"],
    )
    assert not (tmp_path / "n2" / "sample_isd_roster_20261121.txt").exists()

    assert main([*night2, "--previous", str(delivered), "--approve-hold"]) == 0
    status = {
        line.split("|")[0]: line.split("|")[10]
        for line in (tmp_path / "n2" / "sample_isd_roster_20261121.txt").read_text().splitlines()[1:]
    }
    for old in slipped:  # the new id as exported, the earlier one carried as inactive
        assert status[old] == "Inactive" and status[old.lstrip("0")] == "Active"
