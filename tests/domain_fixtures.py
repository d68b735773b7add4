"""Shared helpers for the domain package's unit tests (no Airflow, no servers).

Import from test modules as ``from domain_fixtures import ...``. Everything here builds on the
repository's sample district (``include/districts/sample_isd.yaml`` and its tables and layout), with
small changes made per test, and writes small exports into the test's ``tmp_path``.
"""

from __future__ import annotations

import copy
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import yaml

from devtools.sample import HEADER
from roster.config import District, Layout, load_layout
from roster.config.crossmatch import CrossMatch, load_crossmatch
from roster.night.pipeline import Night, Validated, check_export

REPO = Path(__file__).resolve().parents[1]
INCLUDE = REPO / "include"
DISTRICT_FILE = INCLUDE / "districts" / "sample_isd.yaml"
SAMPLE_EXPORT = INCLUDE / "inbound" / "sample_isd" / "roster_20261120.csv"
ROSTER_DATE = dt.date(2026, 11, 20)
OUTPUT_NAME = "sample_isd_roster_20261120.txt"
ROSTER_BIN = REPO / ".venv" / "bin" / "roster"

#: One valid student row of the sample district (age 11 on the roster date, grade 05, campus 102).
GOOD_ROW: dict[str, str] = {
    "STATE_ID": "0001234",
    "LOCAL_ID": "L0001234",
    "FIRST_NAME": "Maria",
    "MIDDLE_NAME": "",
    "LAST_NAME": "Gonzalez",
    "DOB": "03/14/2015",
    "GENDER": "F",
    "GRADE": "05",
    "CAMPUS": "102",
    "DIAGNOSIS": "",
    "STATUS": "A",
    "ELA_SCORE": "250",
    "MATH_SCORE": "",
}

#: The rejects.csv header and qa_report.json keys other tools rely on (README, docs/RUNBOOK.md).
REJECT_HEADER = "row_number,state_test_number,field,reason"
CONTRACT_REPORT_KEYS = {
    "district_id",
    "date",
    "passed",
    "rows_read",
    "rows_delivered",
    "rows_rejected",
    "rejects_by_reason",
}


# District, tables, layout ----------------------------------------------------------------------


def district_data() -> dict[str, Any]:
    """The sample district file as a plain dict (a fresh copy each call)."""
    return copy.deepcopy(_DISTRICT_DATA)


_DISTRICT_DATA = yaml.safe_load(DISTRICT_FILE.read_text(encoding="utf-8"))


def set_key(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """Set ``a.b.c`` in a nested dict, creating nothing but the last key."""
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[last] = value
    return data


def del_key(data: dict[str, Any], dotted: str) -> dict[str, Any]:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node[part]
    del node[last]
    return data


def make_district(changes: dict[str, Any] | None = None, removed: tuple[str, ...] = ()) -> District:
    """The sample district with dotted-key changes, e.g. ``{"source.encoding": "latin-1"}``."""
    data = district_data()
    for key, value in (changes or {}).items():
        set_key(data, key, value)
    for key in removed:
        del_key(data, key)
    return District.model_validate(data)


def sample_crossmatch(district: District | None = None) -> CrossMatch:
    return load_crossmatch(INCLUDE, district or make_district())


def sample_layout() -> Layout:
    return load_layout(INCLUDE, "rethink_ed")


def make_night(district: District | None = None, roster_date: dt.date = ROSTER_DATE) -> Night:
    district = district or make_district()
    return Night(
        district=district, crossmatch=sample_crossmatch(district), layout=sample_layout(), roster_date=roster_date
    )


# Exports -----------------------------------------------------------------------------------------


def row(**changes: str) -> dict[str, str]:
    """GOOD_ROW with some values changed."""
    unknown = set(changes) - set(GOOD_ROW)
    assert not unknown, f"not a sample column: {unknown}"
    return {**GOOD_ROW, **changes}


def csv_text(rows: list[dict[str, str]], header: list[str] | None = None, eol: str = "\n", delimiter: str = ",") -> str:
    """Rows as CSV text; values holding the delimiter, quotes or line breaks are quoted."""
    header = header or HEADER

    def cell(value: str) -> str:
        # csv.writer leaves a bare CR unquoted when the line ending is LF; quote it like a spreadsheet.
        if any(c in value for c in (delimiter, '"', "\r", "\n")):
            return '"' + value.replace('"', '""') + '"'
        return value

    lines = [delimiter.join(cell(h) for h in header)]
    lines += [delimiter.join(cell(r.get(h, "")) for h in header) for r in rows]
    return "".join(line + eol for line in lines)


def write_export(
    tmp_path: Path,
    rows: list[dict[str, str]] | None = None,
    *,
    text: str | None = None,
    name: str = "export.csv",
    encoding: str = "utf-8",
    bom: bool = False,
    **csv_options: Any,
) -> Path:
    """An export file in ``tmp_path``, from rows (see ``csv_text``) or from literal text."""
    if text is None:
        text = csv_text(rows or [], **csv_options)
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path = tmp_path / name
    path.write_bytes(data)
    return path


def validate_rows(
    tmp_path: Path,
    rows: list[dict[str, str]] | None = None,
    *,
    district: District | None = None,
    roster_date: dt.date = ROSTER_DATE,
    **export_options: Any,
) -> Validated:
    """Write an export and run the night's validation (read, rules, QA) on it."""
    path = write_export(tmp_path, rows, **export_options)
    return check_export(make_night(district, roster_date), path)


def reject_set(result: Validated) -> set[tuple[int, str, str]]:
    """The rejects as ``{(row_number, field, reason)}``."""
    return {(int(r.row_number), r.field, r.reason) for r in result.rejects.itertuples()}


def accepted_values(result: Validated, field: str) -> list[str]:
    return result.accepted[field].tolist()


# Include roots -----------------------------------------------------------------------------------


def copy_include(tmp_path: Path, name: str = "include") -> Path:
    """A private copy of the repository's include root, to break or tweak."""
    target = tmp_path / name
    shutil.copytree(INCLUDE, target)
    return target


def write_district(include_dir: Path, data: dict[str, Any], district_id: str = "sample_isd") -> Path:
    path = include_dir / "districts" / f"{district_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def carried_students(delivered: Path, export: Path) -> tuple[int, int]:
    """``(carried, deactivated)`` a night reading ``export`` must report against the ``delivered``
    roster file, counted from the two files alone: the delivered students whose State Test Number is
    not in the export, and how many of those the file had as active (the diff marks them inactive)."""
    import csv
    import io

    layout = load_layout(INCLUDE, "rethink_ed")
    header = {c.field: c.header for c in layout.columns}
    # The vendor file is UTF-8 and pipe-delimited (the layout's fixed format).
    students = list(csv.DictReader(io.StringIO(delivered.read_bytes().decode("utf-8"), newline=""), delimiter="|"))
    with export.open(encoding="utf-8-sig", newline="") as handle:
        tonight = {row["STATE_ID"].strip() for row in csv.DictReader(handle)}
    gone = [s for s in students if s[header["state_test_number"]] not in tonight]
    return len(gone), sum(s[header["status"]] == layout.status_words.active for s in gone)


# Two nights --------------------------------------------------------------------------------------

#: Delivered on the first night and rejected (grade 13) on the second: carried in the second night's file.
KNOWN_REJECTED = "0000501"
#: First seen on the second night and rejected there (grade 13): never delivered, missing at the vendor.
NEW_REJECTED = "0000777"


def second_night_with_rejects(tmp_path: Path) -> tuple[Night, Path]:
    """Two real nights of the sample district in ``tmp_path``: the first delivers 60 students and
    ``KNOWN_REJECTED``; the second rejects ``KNOWN_REJECTED``, the new ``NEW_REJECTED`` and a row without a
    State Test Number. The night and the second night's run folder (rejects.csv, the roster file)."""
    from roster.night.pipeline import serialize_night, validate_night

    night = make_night()
    base = [row(STATE_ID=f"{n:07d}") for n in range(1, 61)]
    first = write_export(tmp_path, [*base, row(STATE_ID=KNOWN_REJECTED)], name="n1.csv")
    validate_night(night, first, tmp_path / "n1")
    previous = serialize_night(night, first, tmp_path / "n1", None).frame
    rejected = [row(STATE_ID=sid, GRADE="13") for sid in (KNOWN_REJECTED, NEW_REJECTED)]
    second = write_export(tmp_path, [*base, *rejected, row(STATE_ID="")], name="n2.csv")
    out = tmp_path / "n2"
    validate_night(night, second, out)
    serialize_night(night, second, out, previous)
    return night, out
