"""Reading OneRoster 1.1 and 1.2 bulk packages: the canonical table, every verdict, and a round trip
against the flat CSV of the same students (the same rejects, byte-identical roster files)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from devtools import sample
from domain_fixtures import ROSTER_DATE, make_district, make_night
from roster.errors import ConfigError, InputError
from roster.io.export import read_export
from roster.io.oneroster import (
    ONEROSTER_DATE_FORMAT,
    ONEROSTER_STATUS_VALUES,
    check_extensions,
    check_state_id,
    read_oneroster,
)
from roster.night.pipeline import build_roster
from roster.rules.model import find_rejects

# A small package generator ----------------------------------------------------------------------

USERS_11 = [
    "sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username", "userIds",
    "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades",
    "password",
]  # fmt: skip
USERS_12 = [
    "sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds", "givenName", "familyName",
    "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades", "password",
    "userMasterIdentifier", "resourceSourcedIds", "preferredGivenName", "preferredMiddleName",
    "preferredFamilyName", "primaryOrgSourcedId", "pronouns",
]  # fmt: skip
ROLES_12 = [
    "sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role", "beginDate", "endDate",
    "orgSourcedId", "userProfileSourcedId",
]  # fmt: skip
ORGS = ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"]
DEMOGRAPHICS = [
    "sourcedId", "status", "dateLastModified", "birthDate", "sex", "americanIndianOrAlaskaNative", "asian",
    "blackOrAfricanAmerican", "nativeHawaiianOrOtherPacificIslander", "white", "demographicRaceTwoOrMoreRaces",
    "hispanicOrLatinoEthnicity", "countryOfBirthCode", "stateOfBirthAbbreviation", "cityOfBirth",
    "publicSchoolResidenceStatus",
]  # fmt: skip
DEFAULT_ORGS = [
    {"sourcedId": "d1", "type": "district", "identifier": "057905", "name": "Sample ISD"},
    {"sourcedId": "s101", "type": "school", "identifier": "101", "name": "North Elementary"},
    {"sourcedId": "s102", "type": "school", "identifier": "102", "name": "South Elementary", "parentSourcedId": "d1"},
    {"sourcedId": "s201", "type": "school", "identifier": "201", "name": "Middle"},
]


def user(**values: str) -> dict[str, str]:
    """A student user (1.1 columns plus ``birthDate``/``sex`` for demographics), values overridable."""
    base = {
        "sourcedId": "u1",
        "enabledUser": "true",
        "orgSourcedIds": "d1,s101",
        "role": "student",
        "username": "ana.g",
        "userIds": "{LDAP:ana7},{state:TX0001}",
        "givenName": "Ana",
        "familyName": "García",
        "middleName": "Lee",
        "identifier": "0004000000",
        "grades": "03",
        "birthDate": "2017-04-09",
        "sex": "female",
    }
    return {**base, **values}


def _csv(header: list[str], rows: list[dict[str, str]], eol: str = "\r\n") -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, extrasaction="ignore", lineterminator=eol)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def manifest(version: str = "1.1", **modes: str) -> str:
    files = {"users": "bulk", "orgs": "bulk", "demographics": "bulk", "academicSessions": "absent"}
    if version.startswith("1.2"):
        files["roles"] = "bulk"
        files["userProfiles"] = "absent"
    files.update(modes)
    rows = [
        {"propertyName": "manifest.version", "value": "1.0"},
        {"propertyName": "oneroster.version", "value": version},
    ]
    rows += [{"propertyName": f"file.{name}", "value": mode} for name, mode in files.items()]
    rows += [{"propertyName": "source.systemName", "value": "Sample SIS"}]
    return _csv(["propertyName", "value"], rows)


def package_files(
    users: list[dict[str, str]],
    *,
    version: str = "1.1",
    orgs: list[dict[str, str]] | None = None,
    roles: list[dict[str, str]] | None = None,
    extra_user_columns: tuple[str, ...] = (),
    extra_demographic_columns: tuple[str, ...] = (),
    eol: str = "\r\n",
) -> dict[str, str]:
    """The CSV files of a package: 1.1 (roles in users.csv) or 1.2 (roles.csv; derived from each
    user's ``orgSourcedIds`` and ``role`` unless given)."""
    header = USERS_12 if version.startswith("1.2") else USERS_11
    demographics = [u for u in users if "birthDate" in u]
    files = {
        "manifest.csv": manifest(version),
        "users.csv": _csv([*header, *extra_user_columns], users, eol),
        "orgs.csv": _csv(ORGS, orgs if orgs is not None else DEFAULT_ORGS, eol),
        "demographics.csv": _csv([*DEMOGRAPHICS, *extra_demographic_columns], demographics, eol),
    }
    if version.startswith("1.2"):
        if roles is None:
            roles = [
                {"sourcedId": f"r{k}-{i}", "userSourcedId": u["sourcedId"], "roleType": "primary" if i == 0 else "secondary",
                 "role": u["role"], "orgSourcedId": org}
                for k, u in enumerate(users)
                for i, org in enumerate(u["orgSourcedIds"].split(","))
            ]  # fmt: skip
        files["roles.csv"] = _csv(ROLES_12, roles, eol)
    return files


def write_package(
    tmp_path: Path, files: dict[str, str | bytes], kind: str = "zip", name: str = "oneroster_20261120"
) -> Path:
    """``kind``: ``zip`` (files at the root), ``zip-folder`` (in one top folder) or ``folder``."""
    data = {n: v.encode("utf-8") if isinstance(v, str) else v for n, v in files.items()}
    if kind == "folder":
        folder = tmp_path / name
        folder.mkdir()
        for n, v in data.items():
            (folder / n).write_bytes(v)
        return folder
    path = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for n, v in data.items():
            archive.writestr(f"{name}/{n}" if kind == "zip-folder" else n, v)
    return path


def read(tmp_path: Path, users: list[dict[str, str]], kind: str = "zip", **options) -> dict[str, list]:
    reader_options = {k: options.pop(k) for k in ("state_id", "extensions") if k in options}
    path = write_package(tmp_path, package_files(users, **options), kind)
    return read_oneroster(path, **reader_options).table.to_pydict()


def verdict(tmp_path: Path, files: dict[str, str | bytes], kind: str = "zip", **options) -> str:
    path = write_package(tmp_path, files, kind)
    with pytest.raises(InputError) as caught:
        read_oneroster(path, **options)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


# The canonical table ----------------------------------------------------------------------------


def test_a_11_package_gives_the_canonical_table(tmp_path):
    teacher = user(sourcedId="t1", role="teacher", identifier="T9", orgSourcedIds="s102", grades="")
    users = [
        user(),
        teacher,
        user(sourcedId="u2", identifier="0004000007", givenName="Noé", familyName="NA", middleName="",
             grades="KG", orgSourcedIds="s102", birthDate="2021-01-31", sex="male", enabledUser="false"),
    ]  # fmt: skip
    export = read_oneroster(write_package(tmp_path, package_files(users)))
    assert export.table.column_names == [
        "state_test_number", "legal_first_name", "legal_last_name", "date_of_birth", "grade", "campus", "status",
        "local_student_id", "legal_middle_name", "gender", "row_number",
    ]  # fmt: skip
    assert {str(export.table.schema.field(n).type) for n in export.table.column_names[:-1]} == {"large_string"}
    assert export.table.to_pydict() == {
        "state_test_number": ["0004000000", "0004000007"],
        "legal_first_name": ["Ana", "Noé"],
        "legal_last_name": ["García", "NA"],
        "date_of_birth": ["2017-04-09", "2021-01-31"],
        "grade": ["03", "KG"],
        "campus": ["101", "102"],
        "status": ["active", "inactive"],
        "local_student_id": ["u1", "u2"],
        "legal_middle_name": ["Lee", ""],
        "gender": ["F", "M"],
        "row_number": [2, 4],
    }
    assert export.ragged_rows == []
    assert export.notes == ["OneRoster 1.1 bulk package: 2 students among 3 users"]


def test_a_12_package_reads_roles_csv_primary_school_first(tmp_path):
    users = [
        user(orgSourcedIds="d1,s101,s201", grades="03"),
        user(sourcedId="u2", identifier="0004000007", orgSourcedIds="s102", userMasterIdentifier="M2"),
    ]
    roles = [
        {"sourcedId": "r1", "userSourcedId": "u1", "roleType": "secondary", "role": "student", "orgSourcedId": "s201"},
        {"sourcedId": "r2", "userSourcedId": "u1", "roleType": "primary", "role": "student", "orgSourcedId": "s101"},
        {"sourcedId": "r3", "userSourcedId": "u2", "roleType": "primary", "role": "student", "orgSourcedId": "s102"},
        {"sourcedId": "r4", "userSourcedId": "u2", "roleType": "secondary", "role": "teacher", "orgSourcedId": "s201"},
    ]
    table = read(tmp_path, users, version="1.2", roles=roles)
    assert table["campus"] == ["101", "102"]
    assert table["status"] == ["active", "active"]  # 1.2 bulk: status blank
    assert table["row_number"] == [2, 3]


def test_a_12_user_who_is_only_a_teacher_is_not_read(tmp_path):
    users = [user(), user(sourcedId="t1", role="teacher", identifier="T1", orgSourcedIds="s102")]
    assert read(tmp_path, users, version="1.2")["local_student_id"] == ["u1"]


@pytest.mark.parametrize("kind", ["zip", "zip-folder", "folder"])
@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_zip_root_zip_folder_and_folder_read_alike(tmp_path, kind, version):
    table = read(tmp_path, [user()], kind, version=version)
    assert table["state_test_number"] == ["0004000000"] and table["campus"] == ["101"]


def test_bom_crlf_lf_and_blank_lines_are_read(tmp_path):
    files = package_files([user(), user(sourcedId="u2", identifier="0004000007")], eol="\n")
    files["users.csv"] = "\ufeff" + files["users.csv"].replace("\nu2", "\n\nu2")
    files["orgs.csv"] = "\ufeff" + files["orgs.csv"].replace("\n", "\r\n")
    table = read_oneroster(write_package(tmp_path, files)).table.to_pydict()
    assert table["local_student_id"] == ["u1", "u2"]
    assert table["row_number"] == [2, 4]  # the blank line is row 3, as a spreadsheet shows it


def test_the_first_school_in_org_sourced_ids_and_the_first_grade(tmp_path):
    table = read(tmp_path, [user(orgSourcedIds="d1, s201 ,s101", grades="05,06")])
    assert table["campus"] == ["201"] and table["grade"] == ["05"]


def test_a_student_without_a_school_has_an_empty_campus(tmp_path):
    assert read(tmp_path, [user(orgSourcedIds="d1")])["campus"] == [""]


@pytest.mark.parametrize(
    ("state_id", "expected"),
    [
        ("identifier", "0004000000"),
        ("username", "ana.g"),
        ("userIds:state", "TX0001"),
        ("userIds:STATE", "TX0001"),
        ("userIds:LDAP", "ana7"),
        ("userIds:sis", ""),
        ("metadata.stn", "S123"),
    ],
)
def test_the_state_test_number_column_is_chosen(tmp_path, state_id, expected):
    table = read(tmp_path, [user(**{"metadata.stn": "S123"})], state_id=state_id, extra_user_columns=("metadata.stn",))
    assert table["state_test_number"] == [expected]


def test_user_master_identifier_in_12(tmp_path):
    table = read(tmp_path, [user(userMasterIdentifier="M77")], version="1.2", state_id="userMasterIdentifier")
    assert table["state_test_number"] == ["M77"]


@pytest.mark.parametrize(
    ("status", "enabled", "expected"),
    [
        ("", "", "active"),
        ("active", "true", "active"),
        ("Active", "TRUE", "active"),
        ("tobedeleted", "true", "inactive"),
        ("active", "false", "inactive"),
        ("", "False", "inactive"),
        ("W", "true", "W"),  # passed on: the night rejects it as unknown_status
        ("active", "maybe", "maybe"),
    ],
)
def test_status_words(tmp_path, status, enabled, expected):
    assert read(tmp_path, [user(status=status, enabledUser=enabled)])["status"] == [expected]


@pytest.mark.parametrize(
    ("sex", "gender"), [("female", "F"), ("male", "M"), ("Other", "X"), ("unspecified", ""), ("", ""), ("F", "F")]
)
def test_sex_becomes_a_gender_code(tmp_path, sex, gender):
    assert read(tmp_path, [user(sex=sex)])["gender"] == [gender]


def test_values_trimmed_and_names_nfc_normalized(tmp_path):
    table = read(tmp_path, [user(givenName=" Jose\u0301 ", familyName="Mu\u0308ller", identifier=" 0004000000 ")])
    assert table["legal_first_name"] == ["Jos\u00e9"]
    assert table["legal_last_name"] == ["M\u00fcller"]
    assert table["state_test_number"] == ["0004000000"]


def test_a_name_with_a_comma_and_a_quote_and_a_line_break_stays_one_value(tmp_path):
    table = read(tmp_path, [user(familyName='O"Neil, Jr', middleName="a\nb"), user(sourcedId="u2")])
    assert table["legal_last_name"] == ['O"Neil, Jr', "García"]
    assert table["row_number"] == [2, 3]  # a record, not a line


def test_extension_columns_from_users_and_demographics(tmp_path):
    users = [user(**{"metadata.sped": "AU", "metadata.ela": "250", "metadata.math": "301.5"})]
    table = read(
        tmp_path,
        users,
        extensions={"diagnosis": "metadata.sped", "ela_score": "metadata.ela", "math_score": "metadata.math"},
        extra_user_columns=("metadata.sped", "metadata.ela"),
        extra_demographic_columns=("metadata.math",),
    )
    assert (table["diagnosis"], table["ela_score"], table["math_score"]) == (["AU"], ["250"], ["301.5"])
    assert list(table)[-5:] == ["gender", "diagnosis", "ela_score", "math_score", "row_number"]


def test_a_student_without_demographics_has_an_empty_date_of_birth_and_is_rejected(tmp_path):
    users = [user(), user(sourcedId="u2", identifier="0004000007")]
    files = package_files(users)
    files["demographics.csv"] = _csv(DEMOGRAPHICS, [users[0]])
    export = read_oneroster(write_package(tmp_path, files))
    assert export.table["date_of_birth"].to_pylist() == ["2017-04-09", ""]
    assert export.table["gender"].to_pylist() == ["F", ""]
    assert (
        export.notes[1]
        == "demographics.csv has no row for 1 student(s) (users.csv rows 3): their date of birth is empty"
    )
    night = make_night(oneroster_district())
    rejects = find_rejects(export.table.to_pandas(), night.rules)
    assert set(zip(rejects["row_number"], rejects["reason"], strict=True)) == {(3, "missing_date_of_birth")}


# Verdicts ---------------------------------------------------------------------------------------


def _without(files: dict[str, str], name: str) -> dict[str, str]:
    return {n: v for n, v in files.items() if n != name}


def _manifest_with(files: dict[str, str], old: str, new: str) -> dict[str, str]:
    assert old in files["manifest.csv"]
    return {**files, "manifest.csv": files["manifest.csv"].replace(old, new)}


def _replace(files: dict[str, str], name: str, old: str, new: str) -> dict[str, str]:
    assert old in files[name]
    return {**files, name: files[name].replace(old, new, 1)}


FILES_11 = package_files([user(), user(sourcedId="u2", identifier="0004000007", orgSourcedIds="s102")])
FILES_12 = package_files([user(), user(sourcedId="u2", identifier="0004000007")], version="1.2")

VERDICTS = {
    "no manifest (1.0)": (
        _without(FILES_11, "manifest.csv"),
        (
            "the package has no manifest.csv; OneRoster 1.1 and 1.2 packages carry one (a package without one is "
            "OneRoster 1.0, which is not read)"
        ),
    ),
    "version 1.0": (
        _manifest_with(FILES_11, "oneroster.version,1.1", "oneroster.version,1.0"),
        "manifest.csv: row 3: oneroster.version is 1.0, which is not read; export OneRoster 1.1 or 1.2",
    ),
    "version 2.0": (
        _manifest_with(FILES_11, "oneroster.version,1.1", "oneroster.version,2.0"),
        "manifest.csv: row 3: oneroster.version '2.0' is not supported; export OneRoster 1.1 or 1.2",
    ),
    "no version": (
        _manifest_with(FILES_11, "oneroster.version,1.1\r\n", ""),
        "manifest.csv: oneroster.version is missing (expected 1.1 or 1.2)",
    ),
    "delta users": (
        _manifest_with(FILES_11, "file.users,bulk", "file.users,delta"),
        (
            "manifest.csv: row 4: file.users is delta: a roster night needs a bulk package (every student, every night); "
            "export OneRoster in bulk mode"
        ),
    ),
    "delta roles": (
        _manifest_with(FILES_12, "file.roles,bulk", "file.roles,delta"),
        (
            "manifest.csv: row 8: file.roles is delta: a roster night needs a bulk package (every student, every night); "
            "export OneRoster in bulk mode"
        ),
    ),
    "demographics absent": (
        _manifest_with(_without(FILES_11, "demographics.csv"), "file.demographics,bulk", "file.demographics,absent"),
        (
            "the package has no demographics.csv (manifest.csv says file.demographics is absent); a roster night "
            "needs users.csv, orgs.csv and demographics.csv"
        ),
    ),
    "users not in the manifest": (
        _manifest_with(FILES_11, "file.users,bulk\r\n", ""),
        "manifest.csv: file.users is missing; a roster night needs users.csv, orgs.csv and demographics.csv in bulk",
    ),
    "orgs listed but missing": (
        _without(FILES_11, "orgs.csv"),
        "manifest.csv lists orgs.csv as bulk but the package has no orgs.csv",
    ),
    "users header lacks a column": (
        _replace(FILES_11, "users.csv", "familyName", "lastName"),
        "users.csv: line 1: column 'familyName' is missing from the header",
    ),
    "12 without roles": (
        _manifest_with(_without(FILES_12, "roles.csv"), "file.roles,bulk", "file.roles,absent"),
        (
            "users.csv: line 1: column 'role' is missing from the header (OneRoster 1.2 carries roles in roles.csv, "
            "which manifest.csv says is absent)"
        ),
    ),
    "demographics header lacks birthDate": (
        _replace(FILES_11, "demographics.csv", "birthDate", "dob"),
        "demographics.csv: line 1: column 'birthDate' is missing from the header",
    ),
    "repeated column": (
        _replace(FILES_11, "orgs.csv", "name,type", "type,type"),
        "orgs.csv: line 1: column 'type' appears 2 times in the header",
    ),
    "dangling org (1.1)": (
        _replace(FILES_11, "users.csv", "d1,s101", "d1,X9"),
        "users.csv: row 2: orgSourcedIds names org 'X9' that orgs.csv does not have",
    ),
    "dangling org (1.2)": (
        _replace(FILES_12, "roles.csv", "u2,secondary,student,,,s101", "u2,secondary,student,,,s777"),
        "roles.csv: row 5: orgSourcedId names org 's777' that orgs.csv does not have",
    ),
    "dangling org that looks like a name": (
        _replace(FILES_11, "users.csv", "d1,s101", "d1,Maria"),
        (
            "users.csv: row 2: orgSourcedIds names org (an id not shown: it looks like a name or a date) that orgs.csv "
            "does not have"
        ),
    ),
    "dangling user in roles": (
        _replace(FILES_12, "roles.csv", "r1-0,,,u2", "r1-0,,,u9"),
        "roles.csv: row 4: userSourcedId names a user that users.csv does not have",
    ),
    "ragged row": (
        _replace(FILES_11, "users.csv", ",03,\r\nu2", ",03,,extra\r\nu2"),
        "users.csv: row 2: expected 18 values, found 19",
    ),
    "repeated student": (
        _replace(FILES_11, "users.csv", "\r\nu2,", "\r\nu1,"),
        "users.csv: row 3: sourcedId repeats row 2's: the student is listed twice",
    ),
    "repeated org": (
        _replace(FILES_11, "orgs.csv", "\r\ns102,", "\r\ns101,"),
        "orgs.csv: row 4: sourcedId repeats row 3's: an org is listed twice",
    ),
    "repeated demographics": (
        _replace(FILES_11, "demographics.csv", "\r\nu2,", "\r\nu1,"),
        "demographics.csv: row 3: sourcedId repeats row 2's: a student's demographics row is listed twice",
    ),
    "not utf-8": (
        {**FILES_11, "users.csv": FILES_11["users.csv"].encode("utf-8").replace("í".encode(), b"\xed")},
        "users.csv: line 2: not valid UTF-8 text (OneRoster files are UTF-8)",
    ),
    "empty users": ({**FILES_11, "users.csv": ""}, "users.csv: the file is empty; expected a header line"),
}


@pytest.mark.parametrize("case", list(VERDICTS))
def test_a_bad_package_gets_its_verdict(tmp_path, case):
    files, expected = VERDICTS[case]
    message = verdict(tmp_path, files)
    assert message == expected
    for private in ("García", "Ana", "2017-04-09"):
        assert private not in message


def test_a_package_without_students_reads_as_an_empty_export(tmp_path):
    export = read_oneroster(write_package(tmp_path, package_files([user(role="teacher")])))
    assert export.table.num_rows == 0
    assert export.table.column_names[-1] == "row_number"
    assert export.notes == ["OneRoster 1.1 bulk package: 0 students among 1 users"]


def test_a_zip_with_files_in_two_folders(tmp_path):
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in FILES_11.items():
            archive.writestr(f"{'a' if name == 'users.csv' else 'b'}/{name}", text)
    with pytest.raises(InputError) as caught:
        read_oneroster(path)
    assert str(caught.value) == (
        f"{path}: the zip holds CSV files in several folders (a/, b/); put one package's files in one place"
    )


def test_a_csv_instead_of_a_package(tmp_path):
    path = tmp_path / "oneroster_20261120.zip"
    path.write_text(FILES_11["users.csv"], encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_oneroster(path)
    assert str(caught.value) == f"{path}: not a OneRoster package: not a zip archive (expected a .zip or a folder)"


def test_a_missing_package(tmp_path):
    with pytest.raises(InputError) as caught:
        read_oneroster(tmp_path / "nope.zip")
    assert str(caught.value) == f"{tmp_path / 'nope.zip'}: OneRoster package not found"


def test_an_extension_column_in_neither_file(tmp_path):
    message = verdict(tmp_path, FILES_11, extensions={"diagnosis": "metadata.sped"})
    assert message == "users.csv: line 1: extension column 'metadata.sped' is in neither users.csv nor demographics.csv"


def test_the_state_id_column_is_required(tmp_path):
    message = verdict(tmp_path, FILES_11, state_id="metadata.stn")
    assert message == "users.csv: line 1: column 'metadata.stn' is missing from the header"


@pytest.mark.parametrize("value", ["email", "userIds:", "metadata.", "userIds:{x}"])
def test_check_state_id_refuses(value):
    with pytest.raises(ValueError, match="is not a OneRoster id"):
        check_state_id(value)


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        ({"grade": "metadata.g"}, "'grade' cannot come from an extension column"),
        ({"diagnosis": "sped"}, "diagnosis: 'sped' is not an extension column"),
        ({"ela_score": "metadata.s", "math_score": "metadata.s"}, "column 'metadata.s' is named for more than one"),
    ],
)
def test_check_extensions_refuses(extensions, message):
    with pytest.raises(ValueError, match=message):
        check_extensions(extensions)


def test_read_oneroster_names_the_config_key(tmp_path):
    with pytest.raises(ConfigError, match=r"^source\.oneroster: 'email' is not a OneRoster id"):
        read_oneroster(tmp_path, state_id="email")


# Round trip: the same students as a flat CSV and as a OneRoster package --------------------------


def oneroster_district():
    return make_district({"source.date_format": ONEROSTER_DATE_FORMAT, "source.status_values": ONEROSTER_STATUS_VALUES})


SEX = {"F": "female", "M": "male", "X": "other"}
EXTENSIONS = {"diagnosis": "metadata.diagnosis", "ela_score": "metadata.ela", "math_score": "metadata.math"}


def _iso(dob: str) -> str:
    month, day, year = dob.split("/")
    return f"{year}-{month}-{day}"  # as written: an impossible date (02/30) stays impossible


def as_oneroster(rows: list[dict[str, str]], version: str) -> dict[str, str]:
    """The sample export's students as a package: inactive ones alternately ``enabledUser=false``
    and ``tobedeleted``; teachers after the students (so users.csv rows are the CSV's rows)."""
    users = []
    for k, r in enumerate(rows):
        inactive = r["STATUS"] == "I"
        users.append(
            {
                "sourcedId": r["LOCAL_ID"] or f"x{k}",
                "status": "tobedeleted" if inactive and k % 2 else ("" if r["STATUS"] in ("A", "I") else r["STATUS"]),
                "enabledUser": "false" if inactive and not k % 2 else "true",
                "orgSourcedIds": f"d1,s{r['CAMPUS']}",
                "role": "student",
                "identifier": r["STATE_ID"],
                "givenName": r["FIRST_NAME"],
                "middleName": r["MIDDLE_NAME"],
                "familyName": r["LAST_NAME"],
                "grades": r["GRADE"],
                "birthDate": _iso(r["DOB"]),
                "sex": SEX[r["GENDER"]],
                "metadata.diagnosis": r["DIAGNOSIS"],
                "metadata.ela": r["ELA_SCORE"],
                "metadata.math": r["MATH_SCORE"],
            }
        )
    users += [user(sourcedId=f"t{k}", role="teacher", identifier=f"T{k}", orgSourcedIds="s101") for k in range(3)]
    campuses = sorted({r["CAMPUS"] for r in rows})
    orgs = [DEFAULT_ORGS[0], *({"sourcedId": f"s{c}", "type": "school", "identifier": c} for c in campuses)]
    return package_files(users, version=version, orgs=orgs, extra_user_columns=tuple(EXTENSIONS.values()))


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_the_same_students_give_the_same_rejects_and_a_byte_identical_roster(tmp_path, version):
    rows = sample.generate_rows(300, ROSTER_DATE, broken=True)
    flat = tmp_path / "roster_20261120.csv"
    flat.write_bytes(sample.render_csv(rows))
    package = write_package(tmp_path, as_oneroster(rows, version))

    csv_night, or_night = make_night(), make_night(oneroster_district())
    from_csv = read_export(flat, csv_night.district.source)
    from_or = read_oneroster(package, extensions=EXTENSIONS)
    carried = ["state_test_number", "legal_first_name", "legal_middle_name", "legal_last_name", "grade", "campus"]
    carried += ["local_student_id", "gender", "diagnosis", "ela_score", "math_score", "row_number"]
    for field in carried:
        assert from_or.table[field].to_pylist() == from_csv.table[field].to_pylist(), field
    assert set(from_or.table.column_names) == set(from_csv.table.column_names)

    rosters, rejects = [], []
    for night, export in ((csv_night, from_csv), (or_night, from_or)):
        frame = export.table.to_pandas()
        found = find_rejects(frame, night.rules)
        accepted = frame[~np.isin(frame["row_number"], found["row_number"])]
        rejects.append(found.to_dict("records"))
        rosters.append(build_roster(night, accepted, found, None).data)
    # How the rows were built: one row per sample.BROKEN case (one reason each) and the last two rows
    # sharing an id (both rejected); everyone else is delivered, one line each under the header.
    bad_rows = len(sample.BROKEN) + 2
    assert len(rejects[0]) == len({r["row_number"] for r in rejects[0]}) == bad_rows
    assert rejects[0] == rejects[1]
    assert rosters[0] == rosters[1] and rosters[0].count(b"\r\n") == 1 + 300 - bad_rows


def test_a_large_package_is_read_whole(tmp_path):
    """20,000 students in one package: every one read. (How fast is a benchmark's claim, not a test's:
    a wall-clock bound here failed on a loaded machine and proved nothing on an idle one.)"""
    rows = sample.generate_rows(20_000, dt.date(2026, 11, 20), broken=False)
    package = write_package(tmp_path, as_oneroster(rows, "1.1"))
    export = read_oneroster(package, extensions=EXTENSIONS)
    assert export.table.num_rows == 20_000
