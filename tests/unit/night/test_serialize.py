"""The vendor's pipe-delimited roster file: exact bytes, order, translation, reproducibility."""

from __future__ import annotations

import pandas as pd

from domain_fixtures import make_district, make_night, row, sample_crossmatch, sample_layout, write_export
from roster.config import Layout
from roster.io.roster_file import render_lines
from roster.night.pipeline import check_export
from roster.night.serialize import roster_frame

FIELDS = [
    "state_test_number",
    "local_student_id",
    "legal_first_name",
    "legal_middle_name",
    "legal_last_name",
    "date_of_birth",
    "gender",
    "grade",
    "campus",
    "diagnosis",
    "status",
    "ela_score",
    "math_score",
]

#: Three accepted rows as the reader gives them (all text), deliberately not in id order.
ROWS = [
    ["0003", "L3", "Zoë", "", "NA", "2015-01-05", "F", "KG", "101", "", "I", "", "12.5"],
    ["0001", "L1", "José", "Lee", "García", "2012-02-29", "M", "05", "102", "AU", "A", "250", ""],
    ["0002", "L2", "Ann", "", "O'Brien", "2008-12-31", "X", "12", "301", "LD", "A", "", ""],
]

EXPECTED = (
    "State IDNumber|Local ID|First Name|Middle Name|Last Name|Date of Birth|Gender|Grade|School Code"
    "|Primary Disability|Enrollment Status|ELA Score|Math Score|District\r\n"
    "0001|L1|José|Lee|García|02/29/2012|M|5|SISD-EL-102|AUT|Active|250||sample_isd\r\n"
    "0002|L2|Ann||O'Brien|12/31/2008|X|12|SISD-HS-301|SLD|Active|||sample_isd\r\n"
    "0003|L3|Zoë||NA|01/05/2015|F|K|SISD-EL-101||Inactive||12.5|sample_isd\r\n"
).encode()


def _frame(rows=ROWS) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=FIELDS, dtype=str)
    frame.insert(0, "row_number", pd.Series(range(2, len(rows) + 2), dtype="int64"))
    return frame


def _district():
    # An ISO date in the export, so the test shows dates re-rendered in the layout's format.
    return make_district({"source.date_format": "%Y-%m-%d"})


def _render(frame: pd.DataFrame, layout: Layout | None = None, district=None) -> bytes:
    district = district or _district()
    layout = layout or sample_layout()
    return render_lines(roster_frame(frame, district, sample_crossmatch(district), layout), layout).tobytes()


def test_exact_bytes():
    assert _render(_frame()) == EXPECTED


def test_same_input_same_bytes_whatever_the_row_order():
    first = _render(_frame())
    assert _render(_frame()) == first
    assert _render(_frame(list(reversed(ROWS)))) == first
    shuffled = _frame().sample(frac=1, random_state=3)  # index out of order, too
    assert _render(shuffled) == first


def test_no_bom_utf8_crlf_one_header():
    data = _render(_frame())
    assert not data.startswith(b"\xef\xbb\xbf")
    data.decode("utf-8")  # strict
    assert data.count(b"\r\n") == 4
    assert data.replace(b"\r\n", b"").count(b"\n") == 0
    assert data.endswith(b"\r\n")
    assert all(line.count(b"|") == 13 for line in data.split(b"\r\n")[:-1])


def test_rows_sorted_by_code_point():
    layout = Layout.model_validate(
        {
            "name": "mini",
            "status_words": {"active": "Y", "inactive": "N"},
            "line_ending": "lf",
            "columns": [{"header": "ID", "field": "state_test_number"}, {"header": "S", "field": "status"}],
        }
    )
    rows = [[sid, *ROWS[0][1:]] for sid in ["a1", "B10", "A2", "A10", "0009", "10"]]
    assert _render(_frame(rows), layout) == b"ID|S\n0009|N\n10|N\nA10|N\nA2|N\nB10|N\na1|N\n"


def test_lf_layout_unmapped_field_and_district_column():
    layout = Layout.model_validate(
        {
            "name": "other",
            "date_format": "%Y%m%d",
            "status_words": {"active": "1", "inactive": "0"},
            "line_ending": "lf",
            "columns": [
                {"header": "District", "field": "district_id"},
                {"header": "SSID", "field": "state_test_number"},
                {"header": "Born", "field": "date_of_birth"},
                {"header": "Entry", "field": "entry_date"},  # not mapped by this district
                {"header": "Active", "field": "status"},
            ],
        }
    )
    assert _render(_frame(), layout) == (
        b"District|SSID|Born|Entry|Active\n"
        b"sample_isd|0001|20120229||1\n"
        b"sample_isd|0002|20081231||1\n"
        b"sample_isd|0003|20150105||0\n"
    )


def test_status_words_follow_the_districts_active_values():
    district = make_district(
        {"source.date_format": "%Y-%m-%d", "source.status_values": {"active": ["A", "P"], "inactive": ["I", "W"]}}
    )
    rows = [[f"000{n}", *ROWS[0][1:10], status, "", ""] for n, status in enumerate(["A", "P", "I", "W"], start=1)]
    data = _render(_frame(rows), district=district)
    statuses = [line.split(b"|")[10] for line in data.split(b"\r\n")[1:-1]]
    assert statuses == [b"Active", b"Active", b"Inactive", b"Inactive"]


def test_empty_roster_is_the_header_line():
    assert _render(_frame([])) == EXPECTED.split(b"\r\n")[0] + b"\r\n"


def test_from_export_to_file(tmp_path):
    """The whole path: read, reject, render only the accepted rows, in the layout's date format."""
    rows = [
        row(
            STATE_ID="0000300",
            FIRST_NAME="Jose\u0301",
            LAST_NAME="NA",
            DOB="2/9/2015",
            GRADE="KG",
            CAMPUS="101",
            STATUS="I",
        ),
        row(STATE_ID="0000100", GRADE="13"),  # rejected
        row(STATE_ID="0000200", DIAGNOSIS="ED", ELA_SCORE="", MATH_SCORE="301.5"),
    ]
    night = make_night()
    result = check_export(night, write_export(tmp_path, rows))
    data = render_lines(
        roster_frame(result.accepted, night.district, night.crossmatch, night.layout), night.layout
    ).tobytes()
    assert (
        data
        == (
            "State IDNumber|Local ID|First Name|Middle Name|Last Name|Date of Birth|Gender|Grade|School Code"
            "|Primary Disability|Enrollment Status|ELA Score|Math Score|District\r\n"
            "0000200|L0001234|Maria||Gonzalez|03/14/2015|F|5|SISD-EL-102|EBD|Active||301.5|sample_isd\r\n"
            "0000300|L0001234|José||NA|02/09/2015|F|K|SISD-EL-101||Inactive|250||sample_isd\r\n"
        ).encode()
    )
