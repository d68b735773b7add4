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
    "STATE_ID",
    "LOCAL_ID",
    "FIRST_NAME",
    "MIDDLE_NAME",
    "LAST_NAME",
    "DOB",
    "GENDER",
    "GRADE",
    "CAMPUS",
    "DIAGNOSIS",
    "STATUS",
    "ELA_SCORE",
    "MATH_SCORE",
]
FIRST = [
    "Ana",
    "José",
    "Zoë",
    "Liam",
    "Mia",
    "Noah",
    "Chloé",
    "Aarav",
    "Sofía",
    "Ethan",
    "Amara",
    "Lucas",
    "Nguyễn",
    "Olivia",
    "Mateo",
    "Aisha",
]
LAST = [
    "García",
    "Smith",
    "NA",
    "O'Brien",
    "Nguyen",
    "Johnson",
    "Müller",
    "Patel",
    "Brown",
    "López",
    "Kim",
    "Williams",
    "Null",
    "Davis",
    "Okafor",
    "Martínez",
]
MIDDLE = ["", "", "Lee", "Marie", "J", "Ann", "", "Ray"]
GRADES = ["KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"]
CAMPUS_FOR_GRADE = {
    "KG": "101",
    "01": "101",
    "02": "102",
    "03": "102",
    "04": "101",
    "05": "102",
    "06": "201",
    "07": "201",
    "08": "201",
    "09": "301",
    "10": "301",
    "11": "301",
    "12": "301",
}
DIAGNOSES = ["", "", "", "AU", "ED", "ID", "LD", "OHI", "SI"]

#: One broken row per reason: column -> bad value (applied to a copy of a good row).
BROKEN: list[dict[str, str]] = [
    {"STATE_ID": ""},  # missing_state_id
    {"STATE_ID": "12-34"},  # bad_state_id
    {"FIRST_NAME": ""},  # missing_first_name
    {"LAST_NAME": ""},  # missing_last_name
    {"DOB": "02/30/2012"},  # bad_date_of_birth
    {"DOB": "01/15/1990"},  # age_out_of_range
    {"GRADE": "13"},  # unknown_grade
    {"CAMPUS": "999"},  # unknown_campus
    {"DIAGNOSIS": "XX"},  # unknown_diagnosis
    {"STATUS": "W"},  # unknown_status
    {"ELA_SCORE": "n/a"},  # bad_score
    {"LAST_NAME": "Smith|Jones"},  # forbidden_character
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


# Large exports (benchmarks) ------------------------------------------------------------------------
#
# ``generate_rows`` draws every value in Python, fine for a few hundred rows and far too slow for
# millions. ``write_large_export`` draws the same kind of students column-wise with numpy and joins
# the lines with Arrow, chunk by chunk (bounded memory). Each chunk has its own seed, so a row's
# values depend only on (seed, row index): the "previous night" variant of an export is the same
# students with a few differences, as a real district's consecutive nights are.

#: Kinds of broken rows in a large export, spread evenly over its bad share. ``ragged`` adds a field,
#: ``duplicate`` copies the previous row's id (both rows are rejected).
LARGE_BROKEN: list[tuple[str, str, str]] = [
    ("missing_state_id", "STATE_ID", ""),
    ("bad_state_id", "STATE_ID", "12-34"),
    ("missing_first_name", "FIRST_NAME", ""),
    ("missing_last_name", "LAST_NAME", ""),
    ("missing_date_of_birth", "DOB", ""),
    ("bad_date_of_birth", "DOB", "02/30/2012"),
    ("age_out_of_range", "DOB", "01/15/1990"),
    ("unknown_grade", "GRADE", "13"),
    ("unknown_campus", "CAMPUS", "999"),
    ("unknown_diagnosis", "DIAGNOSIS", "XX"),
    ("unknown_status", "STATUS", "W"),
    ("bad_score", "ELA_SCORE", "n/a"),
    ("forbidden_character", "LAST_NAME", "Smith|Jones"),
    ("ragged_row", "", ""),
    ("duplicate_state_id", "STATE_ID", ""),
]
CHUNK_ROWS = 1 << 17
_FIRST_ENDINGS = [
    "",
    "",
    "",
    "",
    "a",
    "o",
    "ie",
    "y",
    "elle",
    "ito",
    "ín",
    "ée",
    "ana",
    "iel",
    "ah",
    "ley",
    "ny",
    "ë",
    "ette",
    "ian",
]
_SYLLABLES = [
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "son",
    "ez",
    "berg",
    "ova",
    "ski",
    "ton",
    "ley",
    "ard",
    "ini",
    "ett",
    "ford",
    "man",
    "ing",
    "ur",
    "ek",
    "as",
    "os",
    "ly",
    "wood",
    "well",
    "ham",
    "ach",
    "ier",
    "ño",
    "é",
]
_LAST_PREFIXES = [
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "De La ",
    "Van ",
    "Mc",
    "O'",
    "St. ",
]
_FIRST_ID, _ID_MULTIPLIER, _ID_MODULUS = 4_000_000, 48_271, 100_000_007  # the modulus is prime


def _large_chunk(start: int, stop: int, key: int, roster_date: dt.date, seed: int, bad_share: float, previous: bool):
    """Rows ``start..stop`` of a large export as a list of CSV lines (an Arrow string array)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng([seed, key])
    n = stop - start
    index = np.arange(start, stop, dtype=np.int64)

    def pick(values: list[str], size: int = n) -> pa.Array:
        chosen = rng.integers(0, len(values), size=size, dtype=np.int32)
        return pa.DictionaryArray.from_arrays(pa.array(chosen), pa.array(values)).cast(pa.string())

    def digits(numbers, width: int = 0) -> pa.Array:
        text = pc.cast(pa.array(numbers), pa.string())
        return pc.utf8_lpad(text, width=width, padding="0") if width else text

    grade_index = rng.integers(0, len(GRADES), size=n, dtype=np.int32)
    age_days = 365 * (5 + grade_index.astype(np.int64)) + rng.integers(0, 365, size=n)
    if previous:
        # Last night some students were one grade lower (a mid-year promotion shows as a change).
        grade_index = np.where((index % 97 == 5) & (grade_index > 0), grade_index - 1, grade_index)
    grades = pa.array(np.asarray(GRADES, dtype=object)[grade_index], pa.string())
    campuses = pa.array(np.asarray([CAMPUS_FOR_GRADE[g] for g in GRADES], dtype=object)[grade_index], pa.string())
    born = np.datetime64(roster_date, "D") - age_days.astype("timedelta64[D]")
    dob = pc.strftime(pa.array(born.astype("datetime64[s]")), format="%m/%d/%Y")
    # Ids in no particular order (a real export is sorted by school or name, not by id), unique:
    # the row index through a bijection modulo a prime.
    numbers = _FIRST_ID + (index * _ID_MULTIPLIER) % _ID_MODULUS
    status_draw = rng.random(n)
    inactive = status_draw < 0.05
    if previous:
        inactive = inactive ^ (index % 211 == 3)  # a few students changed status since last night
    ela = rng.integers(100, 400, size=n)
    math_tenths = rng.integers(1000, 4000, size=n)
    columns = {
        "STATE_ID": digits(numbers, 10),
        "LOCAL_ID": pc.binary_join_element_wise("L", digits(numbers, 7), ""),
        # Names drawn from thousands of variants (a real roster's cardinality), some accented,
        # some with inner spaces: a small alphabet of names would flatter any per-value shortcut.
        "FIRST_NAME": pc.binary_join_element_wise(pick(FIRST), pick(_FIRST_ENDINGS), ""),
        "MIDDLE_NAME": pick(MIDDLE),
        "LAST_NAME": pc.binary_join_element_wise(
            pick(_LAST_PREFIXES), pick(LAST), pick(_SYLLABLES), pick(_SYLLABLES), ""
        ),
        "DOB": dob,
        "GENDER": pick(list("FMX")),
        "GRADE": grades,
        "CAMPUS": campuses,
        "DIAGNOSIS": pick(DIAGNOSES),
        "STATUS": pa.array(np.where(inactive, "I", "A").astype(object), pa.string()),
        "ELA_SCORE": pc.if_else(pa.array(rng.random(n) < 0.7), digits(ela), ""),
        "MATH_SCORE": pc.if_else(
            pa.array(rng.random(n) < 0.7),
            pc.binary_join_element_wise(digits(math_tenths // 10), digits(math_tenths % 10), "."),
            "",
        ),
    }
    ragged = np.zeros(n, dtype=bool)
    if bad_share > 0 and not previous:
        bad = rng.random(n) < bad_share
        bad[index == 0] = False  # the first row stays good (a duplicate copies the row before)
        kinds = rng.integers(0, len(LARGE_BROKEN), size=n)
        for k, (reason, column, value) in enumerate(LARGE_BROKEN):
            mask = bad & (kinds == k)
            if not mask.any():
                continue
            if reason == "ragged_row":
                ragged = mask
            elif reason == "duplicate_state_id":
                previous_ids = pa.array(
                    np.concatenate([[""], columns["STATE_ID"].to_numpy(zero_copy_only=False)[:-1]]).astype(object),
                    pa.string(),
                )
                columns["STATE_ID"] = pc.if_else(pa.array(mask), previous_ids, columns["STATE_ID"])
            else:
                columns[column] = pc.if_else(pa.array(mask), value, columns[column])
    lines = pc.binary_join_element_wise(*[columns[h] for h in HEADER], ",")
    lines = pc.if_else(pa.array(ragged), pc.binary_join_element_wise(lines, "surplus", ","), lines)
    return pc.binary_join_element_wise(lines, "", "\r\n")


def large_export_ranges(rows: int, previous: bool = False) -> list[tuple[int, int, int]]:
    """``(start, stop, chunk seed)`` of each chunk: tonight rows ``0..rows``; last night also the
    0.5% more students at the end who left since (every 113th student of tonight, new tonight, is
    left out when writing). A row's values depend only on its chunk seed and place in the chunk."""
    ranges = [(start, min(start + CHUNK_ROWS, rows), start // CHUNK_ROWS) for start in range(0, rows, CHUNK_ROWS)]
    if previous:
        extra = rows // 200
        ranges += [
            (start, min(start + CHUNK_ROWS, rows + extra), 1_000_000 + k)
            for k, start in enumerate(range(rows, rows + extra, CHUNK_ROWS))
        ]
    return ranges


def write_large_export(
    path: Path,
    rows: int,
    roster_date: dt.date = dt.date(2026, 11, 20),
    seed: int = 7,
    bad_share: float = 0.005,
    previous: bool = False,
) -> Path:
    """A ``rows``-row export for benchmarks, written chunk by chunk (vectorized, bounded memory).

    About ``bad_share`` of the rows are broken (every kind in ``LARGE_BROKEN``, evenly). With
    ``previous``, the night before: the same students, less those new tonight, plus some who left
    since, a few with a lower grade or another status, and no broken rows.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write((",".join(HEADER) + "\r\n").encode("utf-8"))
        for start, stop, key in large_export_ranges(rows, previous):
            lines = _large_chunk(start, stop, key, roster_date, seed, bad_share, previous)
            if previous:
                keep = np.arange(start, stop) % 113 != 11  # students new tonight were not there last night
                lines = pc.filter(lines, pa.array(keep))
            if isinstance(lines, pa.ChunkedArray):
                lines = pa.concat_arrays(lines.chunks)
            offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
            handle.write(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]])
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="write a synthetic SIS export for the sample district")
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2026, 11, 20))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clean", action="store_true", help="no broken rows")
    parser.add_argument(
        "--large",
        action="store_true",
        help="vectorized generator for benchmarks (millions of rows; about --bad-share of them broken)",
    )
    parser.add_argument("--bad-share", type=float, default=0.005, help="with --large: share of broken rows")
    parser.add_argument(
        "--previous", action="store_true", help="with --large: the night before (same students, a few changes)"
    )
    args = parser.parse_args()
    if args.large:
        write_large_export(
            args.path, args.rows, args.date, args.seed, 0.0 if args.clean else args.bad_share, args.previous
        )
    else:
        write_export(args.path, args.rows, args.date, args.seed, broken=not args.clean)


if __name__ == "__main__":
    main()
