"""The sample district's students as a OneRoster 1.1 bulk package (a ``.zip``), deterministically.

``write_oneroster`` takes rows in the sample export's columns (``devtools.sample.HEADER``) and writes
what a SIS would send for them: ``users.csv`` (identifier = State ID, sourcedId = local id, grades
as written: the sample's grades are CEDS codes), ``demographics.csv`` (birthDate in ISO, sex as
words), ``orgs.csv`` (the district and one school per campus code, identifier = the campus code)
and ``manifest.csv``. Diagnosis and scores travel in ``metadata.*`` extension columns (``EXTENSIONS``,
the district's ``source.oneroster.extensions``). A value that cannot be converted (a date that is
no date) is written as it is, so a broken row stays broken the same way in both forms.

``python -m devtools.oneroster PATH`` writes the sample district's package where
``include/districts/sample_isd_oneroster.yaml`` reads it (``make demo FORMAT=oneroster``); packages
are generated, never committed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

from devtools.sample import generate_rows, render_csv

#: ``source.oneroster.extensions`` of a district reading these packages.
EXTENSIONS = {"diagnosis": "metadata.diagnosis", "ela_score": "metadata.ela_score", "math_score": "metadata.math_score"}
USERS = [
    "sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username", "userIds",
    "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades",
    "password", *EXTENSIONS.values(),
]  # fmt: skip
DEMOGRAPHICS = ["sourcedId", "status", "dateLastModified", "birthDate", "sex"]
ORGS = ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"]
_SEX = {"F": "female", "M": "male", "X": "other", "": "unspecified"}
_STATUS = {"A": "active", "I": "tobedeleted"}
_MODIFIED = "2026-01-01T00:00:00.000Z"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_DISTRICT = "org-district"


def _iso(value: str) -> str:
    try:
        return dt.datetime.strptime(value, "%m/%d/%Y").date().isoformat()
    except ValueError:
        return value


def _csv(header: list[str], rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _user(student: dict[str, str], sourced_id: str) -> dict[str, str]:
    campus = student.get("CAMPUS", "")
    orgs = _DISTRICT + (f",org-{campus}" if campus else "")
    return {
        **dict.fromkeys(USERS, ""),
        "sourcedId": sourced_id,
        "status": _STATUS.get(student.get("STATUS", ""), student.get("STATUS", "")),
        "dateLastModified": _MODIFIED,
        "enabledUser": "true",
        "orgSourcedIds": orgs,
        "role": "student",
        "givenName": student.get("FIRST_NAME", ""),
        "familyName": student.get("LAST_NAME", ""),
        "middleName": student.get("MIDDLE_NAME", ""),
        "identifier": student.get("STATE_ID", ""),
        "grades": student.get("GRADE", ""),
        "metadata.diagnosis": student.get("DIAGNOSIS", ""),
        "metadata.ela_score": student.get("ELA_SCORE", ""),
        "metadata.math_score": student.get("MATH_SCORE", ""),
    }


def package_files(students: list[dict[str, str]]) -> dict[str, bytes]:
    """The package's files by name: each student a user (sourcedId = LOCAL_ID, or ``u<n>`` without one)."""
    users, demographics = [], []
    for n, student in enumerate(students, start=1):
        sourced_id = student.get("LOCAL_ID") or f"u{n}"
        users.append(_user(student, sourced_id))
        gender = student.get("GENDER", "")
        demographics.append(
            {
                "sourcedId": sourced_id,
                "status": "active",
                "dateLastModified": _MODIFIED,
                "birthDate": _iso(student.get("DOB", "")),
                "sex": _SEX.get(gender, gender),
            }
        )
    campuses = sorted({s["CAMPUS"] for s in students if s.get("CAMPUS")})
    orgs = [{"sourcedId": _DISTRICT, "name": "Sample ISD", "type": "district", "identifier": "057905"}]
    orgs += [
        {
            "sourcedId": f"org-{c}",
            "name": f"Campus {c}",
            "type": "school",
            "identifier": c,
            "parentSourcedId": _DISTRICT,
        }
        for c in campuses
    ]
    orgs = [{**dict.fromkeys(ORGS, ""), "status": "active", "dateLastModified": _MODIFIED, **o} for o in orgs]
    manifest = [
        ("manifest.version", "1.0"),
        ("oneroster.version", "1.1"),
        *((f"file.{name}", "bulk") for name in ("demographics", "orgs", "users")),
        *((f"file.{name}", "absent") for name in ("academicSessions", "categories", "classes", "courses")),
        ("source.systemName", "Sample SIS"),
    ]
    return {
        "manifest.csv": _csv(["propertyName", "value"], [{"propertyName": k, "value": v} for k, v in manifest]),
        "users.csv": _csv(USERS, users),
        "demographics.csv": _csv(DEMOGRAPHICS, demographics),
        "orgs.csv": _csv(ORGS, orgs),
    }


def write_oneroster(path: Path, students: list[dict[str, str]]) -> Path:
    """``students`` (sample export rows) as a OneRoster 1.1 bulk zip at ``path``: same rows, same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(package_files(students).items()):
            archive.writestr(zipfile.ZipInfo(name, date_time=_EPOCH), data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def write_oneroster_folder(folder: Path, students: list[dict[str, str]]) -> Path:
    """The same package as a folder of CSV files."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in package_files(students).items():
        (folder / name).write_bytes(data)
    return folder


def sample_students(
    rows: int = 300, roster_date: dt.date = dt.date(2026, 11, 20), seed: int = 7
) -> list[dict[str, str]]:
    """The sample export's rows as the CSV reads back (a ragged row's surplus under ``None``, unused)."""
    text = render_csv(generate_rows(rows, roster_date, seed)).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def main() -> None:
    parser = argparse.ArgumentParser(description="write the sample district's export as a OneRoster 1.1 bulk zip")
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2026, 11, 20))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    write_oneroster(args.path, sample_students(args.rows, args.date, args.seed))


if __name__ == "__main__":
    main()
