"""The naive peer: what a straightforward pandas + pandera job with the same rules looks like.

    python bench/naive.py INPUT OUTPUT [--date YYYY-MM-DD] [--include-dir D]

pandas ``read_csv(dtype=str)``, a pandera ``DataFrameModel`` with the sample district's rules written
the obvious way (built-in ``str_matches``/``isin`` checks, ``unique``, pandas string methods and
``to_datetime`` in custom checks), one lazy ``validate``, the failing rows dropped, codes mapped with
``Series.map``, dates re-rendered, rows sorted by id, ``to_csv(sep="|")``. No nightly diff: the peer
does less than the pipeline, so beating it is a fair bar.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = r"[|\x00-\x1f\x7f-\x9f]"
COLUMNS = {
    "STATE_ID": "state_test_number",
    "LOCAL_ID": "local_student_id",
    "FIRST_NAME": "legal_first_name",
    "MIDDLE_NAME": "legal_middle_name",
    "LAST_NAME": "legal_last_name",
    "DOB": "date_of_birth",
    "GENDER": "gender",
    "GRADE": "grade",
    "CAMPUS": "campus",
    "DIAGNOSIS": "diagnosis",
    "STATUS": "status",
    "ELA_SCORE": "ela_score",
    "MATH_SCORE": "math_score",
}
OUTPUT = [
    ("State IDNumber", "state_test_number"),
    ("Local ID", "local_student_id"),
    ("First Name", "legal_first_name"),
    ("Middle Name", "legal_middle_name"),
    ("Last Name", "legal_last_name"),
    ("Date of Birth", "date_of_birth"),
    ("Gender", "gender"),
    ("Grade", "grade"),
    ("School Code", "campus"),
    ("Primary Disability", "diagnosis"),
    ("Enrollment Status", "status"),
    ("ELA Score", "ela_score"),
    ("Math Score", "math_score"),
]


def table(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8") as handle:
        return {row["district_code"]: row["rethink_code"] for row in csv.DictReader(handle)}


def model(grades: dict[str, str], campuses: dict[str, str], diagnoses: dict[str, str], day: dt.date):
    def dates(s: pd.Series) -> pd.Series:
        return pd.to_datetime(s, format="%m/%d/%Y", errors="coerce")

    class Roster(pa.DataFrameModel):
        state_test_number: Series[str] = pa.Field(str_matches=r"^[0-9A-Za-z]{4,20}$", unique=True)
        legal_first_name: Series[str] = pa.Field(str_length={"min_value": 1})
        legal_last_name: Series[str] = pa.Field(str_length={"min_value": 1})
        legal_middle_name: Series[str]
        local_student_id: Series[str]
        gender: Series[str]
        date_of_birth: Series[str] = pa.Field(str_length={"min_value": 1})
        grade: Series[str] = pa.Field(isin=list(grades))
        campus: Series[str] = pa.Field(isin=list(campuses))
        diagnosis: Series[str] = pa.Field(isin=["", *diagnoses])
        status: Series[str] = pa.Field(isin=["A", "I"])
        ela_score: Series[str]
        math_score: Series[str]

        @pa.check("date_of_birth", name="bad_date_of_birth")
        def _dob(cls, s: Series[str]) -> Series[bool]:
            return (s == "") | dates(s).notna()

        @pa.check("date_of_birth", name="age_out_of_range")
        def _age(cls, s: Series[str]) -> Series[bool]:
            born = dates(s)
            age = (
                day.year
                - born.dt.year
                - ((born.dt.month > day.month) | ((born.dt.month == day.month) & (born.dt.day > day.day)))
            )
            return born.isna() | age.between(2, 22)

        @pa.check("ela_score", "math_score", name="bad_score")
        def _score(cls, s: Series[str]) -> Series[bool]:
            return (s == "") | pd.to_numeric(s, errors="coerce").notna()

        @pa.check(*COLUMNS.values(), name="forbidden_character")
        def _clean(cls, s: Series[str]) -> Series[bool]:
            return ~s.str.contains(FORBIDDEN, regex=True)

    return Roster


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2026, 11, 20))
    parser.add_argument("--include-dir", type=Path, default=REPO / "include")
    args = parser.parse_args()
    tables = args.include_dir / "crossmatch" / "sample_isd"
    grades, campuses, diagnoses = (table(tables / f"{name}.csv") for name in ("grades", "campuses", "diagnoses"))

    frame = pd.read_csv(args.input, dtype=str, keep_default_na=False, on_bad_lines="skip")
    frame = frame.rename(columns=COLUMNS)[list(COLUMNS.values())]
    frame = frame.apply(lambda s: s.str.strip(" "))
    try:
        model(grades, campuses, diagnoses, args.date).validate(frame, lazy=True)
        bad = pd.Index([])
    except pa.errors.SchemaErrors as errors:
        bad = pd.Index(errors.failure_cases["index"].dropna().unique())
    good = frame.drop(index=bad)
    good["grade"] = good["grade"].map(grades)
    good["campus"] = good["campus"].map(campuses)
    good["diagnosis"] = good["diagnosis"].map(diagnoses).fillna("")
    good["status"] = good["status"].map({"A": "Active", "I": "Inactive"})
    good["date_of_birth"] = pd.to_datetime(good["date_of_birth"], format="%m/%d/%Y").dt.strftime("%m/%d/%Y")
    good["district_id"] = "sample_isd"
    good = good.sort_values("state_test_number")
    out = good[[field for _, field in OUTPUT] + ["district_id"]]
    out.columns = [header for header, _ in OUTPUT] + ["District"]
    out.to_csv(args.output, sep="|", index=False, lineterminator="\r\n")


if __name__ == "__main__":
    main()
