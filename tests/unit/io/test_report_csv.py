"""Report CSVs people open in a spreadsheet: formula-looking values neutralized, and read back intact."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from domain_fixtures import make_district, make_night, row, write_export
from roster.fast import arrow as arrowkit
from roster.fast import cells
from roster.golive.discovery import CodeCount, Discovery, write_discovery
from roster.golive.reconcile import Finding, Reconciliation, write_report
from roster.io import report_csv
from roster.night.pipeline import serialize_night, validate_night

#: What a value may start with only as a plain number (OWASP's formula starts).
UNSAFE_START = tuple(cells.FORMULA_STARTS)
PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)")
#: State Test Numbers that look like formulas, allowed by the district's pattern for these tests.
FORMULA_IDS = "^[-+=@0-9A-Za-z]{4,20}$"


def _parsed(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _safe(value: str) -> bool:
    return not value.startswith(UNSAFE_START) or bool(PLAIN_NUMBER.fullmatch(value))


# The rule ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+1+1", "'+1+1"),
        ("-1+1", "'-1+1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("'=x", "''=x"),  # looks neutralized already: one more quote, so reading back gives it again
        ("-1", "-1"),  # a plain number (a grade code): a spreadsheet reads a number, never a formula
        ("-3.5", "-3.5"),
        ("+7", "+7"),
        ("O'Brien", "O'Brien"),
        ("'tis", "'tis"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralize(value, written):
    assert cells.neutralize(value) == written
    assert cells.unneutralize(written) == value
    column = pa.chunked_array([pa.array([value, "plain"], pa.large_string())])
    assert cells.neutralized(column).to_pylist() == [written, "plain"]
    assert cells.unneutralized(cells.neutralized(column)).to_pylist() == [value, "plain"]


def test_clean_columns_are_not_touched():
    """The cheap first-byte scan: a column no value of which starts with a quote or a formula start is returned as is."""
    column = pa.chunked_array([pa.array(["a-b", "x=1", "1@2", ""], pa.large_string())])
    assert not cells.needs_neutralizing(column)
    assert cells.neutralized(column) is column


# The property ---------------------------------------------------------------------------------------

_starts = st.sampled_from(["", "=", "+", "-", "@", "\t", "\r", "'", "''=", '"', ",", "\n", "-1", "'-"])
_values = st.builds(lambda start, rest: start + rest, _starts, st.text(max_size=12))


def _formula_check(pairs: list[tuple[str, str]], fast: bool) -> list[str]:
    """One example of the property below; what it reached: the path (``arrow``, ``pandas``) and
    whether some input needed neutralizing (``unsafe input``)."""
    frame = pd.DataFrame(
        {
            "row_number": pd.Series(range(len(pairs)), dtype="int64"),
            "a": pd.array([a for a, _ in pairs], dtype="str"),
            "b": pd.array([b for _, b in pairs], dtype="str"),
        }
    )
    old = arrowkit.CSV_FAST_ROWS
    arrowkit.CSV_FAST_ROWS = 1 if fast else 10**9
    try:
        data = arrowkit.csv_bytes(frame)
    finally:
        arrowkit.CSV_FAST_ROWS = old
    parsed = _parsed(data)
    assert parsed[0] == ["row_number", "a", "b"]
    body = parsed[1:]
    assert len(body) == len(pairs)
    assert all(_safe(value) for line in body for value in line)
    assert [(cells.unneutralize(a), cells.unneutralize(b)) for _, a, b in body] == pairs
    unsafe = any(not _safe(value) for pair in pairs for value in pair)
    return ["arrow" if fast else "pandas", *(["unsafe input"] if unsafe else [])]


def test_no_report_value_starts_like_a_formula():
    """For any text, the report parsed back with the csv module holds no formula start (but plain
    numbers), and un-neutralizing gives back the input; pandas' path and Arrow's alike."""
    reached: Counter[str] = Counter()

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.tuples(_values, _values), min_size=1, max_size=40), st.booleans())
    def prop(pairs, fast):
        for branch in _formula_check(pairs, fast):
            event(branch)
            reached[branch] += 1

    prop()
    # Both writers are exercised (about half each), and most examples (about 85%) hold a value that
    # must be neutralized; the bounds leave room for chance.
    total = reached["arrow"] + reached["pandas"]
    assert min(reached["arrow"], reached["pandas"]) >= total // 4, reached
    assert reached["unsafe input"] >= total // 2, reached


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_values, st.integers(-5, 5)), max_size=20))
def test_rows_bytes_and_read_rows_round_trip(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("report") / "r.csv"
    path.write_bytes(report_csv.rows_bytes(["text", "count"], [[t, n] for t, n in rows]))
    assert all(_safe(v) for line in _parsed(path.read_bytes()) for v in line)
    assert [(r["text"], int(r["count"])) for r in report_csv.read_rows(path)] == rows
    frame = report_csv.read_frame(path)
    assert list(frame["text"]) == [t for t, _ in rows]


# Each report ----------------------------------------------------------------------------------------


def _formula_night():
    return make_night(make_district({"source.state_id_pattern": FORMULA_IDS}))


def test_rejects_csv_neutralizes_and_serialize_reads_the_ids_back(tmp_path):
    """rejects.csv carries ``'=...`` ids; the serializer re-reading it (as the DAG does) gets the ids as found:
    a student delivered last night whose row is rejected tonight is retained, not deactivated."""
    night = _formula_night()
    base = [row(STATE_ID=f"{n:07d}") for n in range(1, 40)]
    first = write_export(tmp_path, [*base, row(STATE_ID="=1+2345")], name="n1.csv")
    validate_night(night, first, tmp_path / "n1")
    previous = serialize_night(night, first, tmp_path / "n1", None).frame
    second = write_export(tmp_path, [*base, row(STATE_ID="=1+2345"), row(STATE_ID="=1+2345")], name="n2.csv")
    out = tmp_path / "n2"
    validate_night(night, second, out)  # the duplicate is rejected, its id echoed
    data = (out / "rejects.csv").read_bytes()
    assert b",'=1+2345," in data and b",=1+2345" not in data
    assert set(report_csv.read_frame(out / "rejects.csv")["state_test_number"]) == {"=1+2345"}
    counts = serialize_night(night, second, out, previous).diff.counts
    assert counts["retained"] == 1 and counts["deactivated"] == 0


def test_changes_csv_neutralizes(tmp_path):
    night = _formula_night()
    base = [row(STATE_ID=f"{n:07d}") for n in range(1, 40)]
    first = write_export(tmp_path, [*base, row(STATE_ID="@SUM1234")], name="n1.csv")
    validate_night(night, first, tmp_path / "n1")
    previous = serialize_night(night, first, tmp_path / "n1", None).frame
    second = write_export(tmp_path, base, name="n2.csv")
    validate_night(night, second, tmp_path / "n2")
    serialize_night(night, second, tmp_path / "n2", previous)
    data = (tmp_path / "n2" / "changes.csv").read_bytes()
    assert b"\n'@SUM1234," in data
    assert all(_safe(v) for line in _parsed(data) for v in line)


def test_crossmatch_reports_neutralize(tmp_path: Path):
    result = Discovery(codes=[CodeCount("grades", "=1+1", 3, ""), CodeCount("grades", "-1", 2, "PK")], rows_read=5)
    report, missing = write_discovery(result, tmp_path)
    assert _parsed(report.read_bytes())[1:] == [["grades", "'=1+1", "3", ""], ["grades", "-1", "2", "PK"]]
    assert missing.name == "missing_grades.csv"
    assert _parsed(missing.read_bytes())[1] == ["'=1+1", "", ""]


def test_reconcile_report_neutralizes(tmp_path: Path):
    findings = [Finding("add_at_vendor", "@1234567", "not at the vendor; SIS row 2", 2)]
    path = write_report(Reconciliation(findings=findings, sis_rows=1), tmp_path)
    assert (
        path.read_bytes() == b"issue,state_test_number,detail\nadd_at_vendor,'@1234567,not at the vendor; SIS row 2\n"
    )
