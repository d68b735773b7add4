"""Deterministic synthetic SIS exports for the sample district, demos, tests and benchmarks.

The same arguments always give the same bytes. Names are made up from small lists (with accents, a
surname ``NA`` and leading-zero ids, the cases that break naive readers); a fixed set of broken rows,
one per reason code, shows what rejection looks like.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import random
from pathlib import Path

HEADER = [
    "STATE_ID", "LOCAL_ID", "FIRST_NAME", "MIDDLE_NAME", "LAST_NAME", "DOB", "GENDER", "GRADE",
    "CAMPUS", "DIAGNOSIS", "STATUS", "ELA_SCORE", "MATH_SCORE",
]
FIRST = ["Ana", "José", "Zoë", "Liam", "Mia", "Noah", "Chloé", "Aarav", "Sofía", "Ethan", "Amara", "Lucas", "Nguyễn", "Olivia", "Mateo", "Aisha"]
LAST = ["García", "Smith", "NA", "O'Brien", "Nguyen", "Johnson", "Müller", "Patel", "Brown", "López", "Kim", "Williams", "Null", "Davis", "Okafor", "Martínez"]
MIDDLE = ["", "", "Lee", "Marie", "J", "Ann", "", "Ray"]
GRADES = ["KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"]
CAMPUS_FOR_GRADE = {"KG": "101", "01": "101", "02": "102", "03": "102", "04": "101", "05": "102", "06": "201", "07": "201", "08": "201", "09": "301", "10": "301", "11": "301", "12": "301"}
DIAGNOSES = ["", "", "", "AU", "ED", "ID", "LD", "OHI", "SI"]

#: One broken row per reason: column -> bad value (applied to a copy of a good row).
BROKEN: list[dict[str, str]] = [
    {"STATE_ID": ""},                     # missing_state_id
    {"STATE_ID": "12-34"},                # bad_state_id
    {"FIRST_NAME": ""},                   # missing_first_name
    {"LAST_NAME": ""},                    # missing_last_name
    {"DOB": "02/30/2012"},                # bad_date_of_birth
    {"DOB": "01/15/1990"},                # age_out_of_range
    {"GRADE": "13"},                      # unknown_grade
    {"CAMPUS": "999"},                    # unknown_campus
    {"DIAGNOSIS": "XX"},                  # unknown_diagnosis
    {"STATUS": "W"},                      # unknown_status
    {"ELA_SCORE": "n/a"},                 # bad_score
    {"LAST_NAME": "Smith|Jones"},         # forbidden_character
]


def _student(rng: random.Random, number: int, roster_date: dt.date) -> dict[str, str]:
    grade = rng.choice(GRADES)
    age = 5 + GRADES.index(grade)
    born = roster_date - dt.timedelta(days=365 * age + rng.randrange(0, 365))
    return {
        "STATE_ID": f"{number:010d}",
        "LOCAL_ID": f"L{number:07d}",
        "FIRST_NAME": rng.choice(FIRST),
        "MIDDLE_NAME": rng.choice(MIDDLE),
        "LAST_NAME": rng.choice(LAST),
        "DOB": born.strftime("%m/%d/%Y"),
        "GENDER": rng.choice("FMX"),
        "GRADE": grade,
        "CAMPUS": CAMPUS_FOR_GRADE[grade],
        "DIAGNOSIS": rng.choice(DIAGNOSES),
        "STATUS": "I" if rng.random() < 0.05 else "A",
        "ELA_SCORE": str(rng.randrange(100, 400)) if rng.random() < 0.7 else "",
        "MATH_SCORE": f"{rng.uniform(100, 400):.1f}" if rng.random() < 0.7 else "",
    }


def generate_rows(rows: int, roster_date: dt.date, seed: int = 7, broken: bool = True) -> list[dict[str, str]]:
    """``rows`` students; with ``broken``, the BROKEN cases and one duplicated id are spread in."""
    rng = random.Random(seed)
    students = [_student(rng, 4_000_000 + i * 7, roster_date) for i in range(rows)]
    if broken and rows >= 4 * (len(BROKEN) + 2):
        step = rows // (len(BROKEN) + 2)
        for k, change in enumerate(BROKEN, start=1):
            students[k * step].update(change)
        # duplicate_state_id: two rows share an id; both must be rejected.
        students[-1]["STATE_ID"] = students[-2]["STATE_ID"]
    return students


def render_csv(students: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(students)
    return buffer.getvalue().encode("utf-8")


def write_export(path: Path, rows: int, roster_date: dt.date, seed: int = 7, broken: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_csv(generate_rows(rows, roster_date, seed, broken)))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="write a synthetic SIS export for the sample district")
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2026, 11, 20))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clean", action="store_true", help="no broken rows")
    args = parser.parse_args()
    write_export(args.path, args.rows, args.date, args.seed, broken=not args.clean)


if __name__ == "__main__":
    main()
