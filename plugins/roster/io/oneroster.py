"""Reading a OneRoster 1.1 or 1.2 bulk package (a ``.zip`` or a folder) as the night's export.

``read_oneroster`` gives the same ``Export`` as ``read_export`` gives for a flat CSV: canonical
``large_string`` columns (never null; a missing value is ``""``), names trimmed and NFC-normalized,
every value trimmed of spaces, plus ``row_number``: the student's row in ``users.csv`` (header =
row 1). ``ragged_rows`` is always empty (a ragged row makes the package unreadable, below).

The mapping (students are users whose role is ``student``):

==================== ==============================================================================
state_test_number    ``identifier`` by default; ``state_id`` may name ``username``,
                     ``userMasterIdentifier`` (1.2), ``userIds:<type>`` (the id of that type in the
                     ``{type:id}`` list; ``""`` when the student has none) or ``metadata.<column>``
local_student_id     ``sourcedId``
legal_*_name         ``givenName``, ``middleName`` (``""`` when the column is absent), ``familyName``
date_of_birth        demographics ``birthDate`` as written (ISO ``YYYY-MM-DD``, ``ONEROSTER_DATE_FORMAT``)
gender               demographics ``sex`` through ``ONEROSTER_SEX_CODES`` (male M, female F, other X,
                     unspecified ``""``); any other value as written
grade                the first code of ``grades`` (CEDS codes: KG, 01..12, PK...)
campus               ``identifier`` of the student's first org of type ``school``: the order of
                     ``orgSourcedIds`` (1.1), or of ``roles.csv`` with the ``primary`` role first
                     (when the manifest has ``file.roles`` bulk); ``""`` when the student has none
status               ``active`` or ``inactive`` (``ONEROSTER_STATUS_VALUES``): inactive when ``status``
                     is ``tobedeleted`` (or ``inactive``) or ``enabledUser`` is ``false``; a blank or
                     absent ``status``/``enabledUser`` (1.2 bulk files leave ``status`` blank) is
                     active. Any other value is passed on as written, for ``unknown_status``.
extensions           ``extensions`` maps an optional field (diagnosis, ela_score, math_score,
                     entry_date, exit_date) to a ``metadata.*`` column of ``users.csv`` (or, when
                     not there, of ``demographics.csv``)
==================== ==============================================================================

Verdicts. The package is unreadable (one ``InputError`` naming the package, the file inside it and
the line or row, never a value that could be a name or a date of birth) when:

* it is neither a folder nor a zip, or its zip holds CSV files in more than one folder;
* ``manifest.csv`` is missing (a OneRoster 1.0 package has none), or ``oneroster.version`` is
  missing, 1.0 or not 1.1/1.2;
* ``users.csv``, ``orgs.csv`` or ``demographics.csv`` is absent, or any file read is ``delta``
  (a roster night needs every student every night);
* a file lacks a column the mapping reads, repeats one, is not UTF-8, has a ragged row or an
  unclosed quote;
* a student's org reference (``orgSourcedIds`` or roles ``orgSourcedId``) names no org of
  ``orgs.csv``, or a student role names no user of ``users.csv``;
* a ``sourcedId`` repeats among the students, the orgs or the students' demographics rows.

Row-level (the night's rules judge them, the package is read): a student without a demographics
row gets an empty date of birth and gender (rejected as ``missing_date_of_birth``, and named by
row in ``Export.notes``); no school org gives an empty campus; an unknown grade or status code is
passed on for its rule. Users who are not students are not read, and faults in their rows (a
dangling org of a teacher) are not the night's concern.

``userProfiles.csv`` carries no field of the roster and is not read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from roster.config import CANONICAL_FIELDS
from roster.config.oneroster import (
    EXTENSION_FIELDS,
    ONEROSTER_DATE_FORMAT,
    ONEROSTER_FIELDS,
    ONEROSTER_STATUS_VALUES,
    STATE_ID_COLUMNS,
    check_extensions,
    check_state_id,
)
from roster.errors import ConfigError
from roster.io.exported import Export, _normalize
from roster.io.oneroster_package import SUPPORTED_VERSIONS, Package, open_package

#: demographics ``sex`` (lower case) -> gender code; other values pass as written.
ONEROSTER_SEX_CODES = {"male": "M", "female": "F", "other": "X", "unspecified": ""}

_INACTIVE_STATUS = ("tobedeleted", "inactive")


def read_oneroster(path: Path, *, state_id: str = "identifier", extensions: Mapping[str, str] | None = None) -> Export:
    """Read the bulk package at ``path`` (a ``.zip`` or a folder); an ``InputError`` when unreadable."""
    try:
        state_id = check_state_id(state_id)
        extensions = check_extensions(extensions or {})
    except ValueError as exc:
        raise ConfigError(f"source.oneroster: {exc}") from None
    package = open_package(path)
    package.require("users.csv")
    package.require("orgs.csv")
    package.require("demographics.csv")
    with_roles = package.bulk("roles.csv")
    users, students = _students(package, state_id, extensions, with_roles)
    demographics, missing = _demographics(package, students, extensions)
    campus = _campuses(package, students, with_roles)
    columns = {
        "state_test_number": _state_ids(students, state_id),
        "legal_first_name": students["givenName"],
        "legal_last_name": students["familyName"],
        "date_of_birth": demographics["birthDate"],
        "grade": _first_grade(students["grades"]),
        "campus": campus,
        "status": _status(students),
        "local_student_id": students["sourcedId"],
        "legal_middle_name": _column_or_empty(students, "middleName"),
        "gender": _gender(demographics["sex"]),
    }
    for field, column in extensions.items():
        columns[field] = students[column] if column in students.column_names else demographics[column]
    names = [f for f in CANONICAL_FIELDS if f in columns]
    table = pa.table({f: _large(columns[f]) for f in names})
    table = _normalize(table).append_column("row_number", students["row_number"])
    return Export(path=path, table=table, ragged_rows=[], notes=_notes(package, students, users, missing))


def _students(
    package: Package, state_id: str, extensions: dict[str, str], with_roles: bool
) -> tuple[pa.Table, pa.Table]:
    """All users (``sourcedId``, ``row_number``) and the students' rows with the columns read."""
    required = ["sourcedId", "givenName", "familyName", "grades"]
    if state_id.startswith("userIds:"):
        required.append("userIds")
    else:
        required.append(state_id)
    if not with_roles:
        required += ["role", "orgSourcedIds"]
    user_columns = package.header("users.csv")
    wanted = [c for c in extensions.values() if c in user_columns]
    hint = ""
    if not with_roles and package.version.startswith("1.2"):
        hint = " (OneRoster 1.2 carries roles in roles.csv, which manifest.csv says is absent)"
    users = package.table(
        "users.csv",
        tuple(dict.fromkeys(required)),
        ("middleName", "status", "enabledUser", *wanted),
        hint=hint,
    )
    if with_roles:
        ids = _student_role_users(package, users)
        students = users.filter(pc.is_in(users["sourcedId"], value_set=ids))
    else:
        students = users.filter(pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(users["role"])), "student"))
    _unique(package, "users.csv", students, "sourcedId", "the student")
    return users, students


def _student_roles(package: Package) -> pa.Table:
    roles = package.table("roles.csv", ("userSourcedId", "role", "orgSourcedId"), ("roleType",))
    return roles.filter(pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(roles["role"])), "student"))


def _student_role_users(package: Package, users: pa.Table) -> pa.Array:
    roles = _student_roles(package)
    known = pc.is_in(roles["userSourcedId"], value_set=users["sourcedId"].combine_chunks())
    if not pc.all(known).as_py():
        row = pc.filter(roles["row_number"], pc.invert(known))[0].as_py()
        raise package.fail("roles.csv", f"row {row}", "userSourcedId names a user that users.csv does not have")
    return pc.unique(roles["userSourcedId"].combine_chunks())


def _unique(package: Package, name: str, table: pa.Table, column: str, what: str) -> None:
    """A repeated ``sourcedId`` makes the package ambiguous: which row is the student?"""
    if table.num_rows < 2:
        return
    codes = pc.dictionary_encode(pc.utf8_trim_whitespace(table[column]).combine_chunks()).indices.to_numpy()
    order = np.argsort(codes, kind="stable")
    repeats = order[1:][codes[order][1:] == codes[order][:-1]]
    if repeats.size == 0:
        return
    second = int(repeats.min())
    first = int(np.argmax(codes == codes[second]))
    rows = table["row_number"].to_numpy()
    raise package.fail(name, f"row {rows[second]}", f"sourcedId repeats row {rows[first]}'s: {what} is listed twice")


def _demographics(
    package: Package, students: pa.Table, extensions: dict[str, str]
) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Per student, the demographics columns read (``""`` without a row), and who has no row."""
    header = package.header("demographics.csv")
    wanted = [c for c in extensions.values() if c not in students.column_names]
    for column in wanted:
        if column not in header:
            raise package.fail(
                "users.csv", "line 1", f"extension column {column!r} is in neither users.csv nor demographics.csv"
            )
    table = package.table("demographics.csv", ("sourcedId", "birthDate"), ("sex", *wanted))
    ids = pc.utf8_trim_whitespace(table["sourcedId"])
    mine = table.filter(pc.is_in(ids, value_set=pc.utf8_trim_whitespace(students["sourcedId"]).combine_chunks()))
    _unique(package, "demographics.csv", mine, "sourcedId", "a student's demographics row")
    at = pc.index_in(
        pc.utf8_trim_whitespace(students["sourcedId"]),
        value_set=pc.utf8_trim_whitespace(mine["sourcedId"]).combine_chunks(),
    )
    missing = pc.is_null(at).to_numpy(zero_copy_only=False)
    columns = {}
    for column in ("birthDate", "sex", *wanted):
        values = mine[column].take(at) if column in mine.column_names else pa.nulls(len(at), pa.large_string())
        columns[column] = pc.fill_null(values, "")
    return columns, missing


def _campuses(package: Package, students: pa.Table, with_roles: bool) -> pa.Array:
    """Per student, the ``identifier`` of the first school among their orgs."""
    orgs = package.table("orgs.csv", ("sourcedId", "type", "identifier"))
    _unique(package, "orgs.csv", orgs, "sourcedId", "an org")
    if with_roles:
        parent, org_ids, rows, name = _role_orgs(package, students)
    else:
        parent, org_ids, rows, name = _user_orgs(students)
    where = pc.index_in(org_ids, value_set=pc.utf8_trim_whitespace(orgs["sourcedId"]).combine_chunks())
    dangling = pc.is_null(where).to_numpy(zero_copy_only=False)
    if dangling.any():
        k = int(np.argmax(dangling))
        column = "orgSourcedId" if with_roles else "orgSourcedIds"
        raise package.fail(
            name, f"row {rows[k]}", f"{column} names org {_shown(org_ids[k].as_py())} that orgs.csv does not have"
        )
    kinds = pc.utf8_lower(pc.utf8_trim_whitespace(orgs["type"].take(where)))
    school = pc.equal(kinds, "school").to_numpy(zero_copy_only=False)
    # The references are in order within each student, so a student's first school is the first one.
    parent = parent[school]
    first, at = np.unique(parent, return_index=True)
    identifiers = orgs["identifier"].take(where).filter(pa.array(school)).take(pa.array(at, pa.int64()))
    campus = np.full(students.num_rows, "", dtype=object)
    campus[first] = np.asarray(identifiers.to_pylist(), dtype=object)
    return pa.array(campus, pa.large_string())


def _user_orgs(students: pa.Table) -> tuple[np.ndarray, pa.Array, np.ndarray, str]:
    """1.1: each student's ``orgSourcedIds`` list, flattened: (student, org id, row), in list order."""
    lists = pc.split_pattern(students["orgSourcedIds"].combine_chunks(), ",")
    parent = pc.list_parent_indices(lists).to_numpy()
    org_ids = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    keep = pc.not_equal(org_ids, "").to_numpy(zero_copy_only=False)
    parent, org_ids = parent[keep], org_ids.filter(pa.array(keep))
    rows = students["row_number"].to_numpy()[parent]
    return parent, org_ids, rows, "users.csv"


def _role_orgs(package: Package, students: pa.Table) -> tuple[np.ndarray, pa.Array, np.ndarray, str]:
    """roles.csv: each student role's org, by student, primary roles first, then in file order."""
    roles = _student_roles(package)
    at = pc.index_in(roles["userSourcedId"], value_set=students["sourcedId"].combine_chunks())
    parent = at.to_numpy(zero_copy_only=False)
    secondary = np.ones(roles.num_rows, dtype=bool)
    if "roleType" in roles.column_names:
        kind = pc.utf8_lower(pc.utf8_trim_whitespace(roles["roleType"]))
        secondary = pc.not_equal(kind, "primary").to_numpy(zero_copy_only=False).astype(bool)
    order = np.lexsort((np.arange(roles.num_rows), secondary, parent))
    org_ids = pc.utf8_trim_whitespace(roles["orgSourcedId"]).combine_chunks().take(pa.array(order))
    rows = roles["row_number"].to_numpy()[order]
    return parent[order].astype(np.int64), org_ids, rows, "roles.csv"


_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")


def _shown(value: str) -> str:
    """An org id as it can be shown: quoted when it looks like a code (digits, no date); a value that
    could be a name or a date (columns swapped by the exporter) is not echoed."""
    if _CODE.match(value) and any(c.isdigit() for c in value) and not _DATE_LIKE.search(value):
        return repr(value)
    return "(an id not shown: it looks like a name or a date)"


def _state_ids(students: pa.Table, state_id: str) -> pa.ChunkedArray | pa.Array:
    if not state_id.startswith("userIds:"):
        return students[state_id]
    kind = re.escape(state_id.removeprefix("userIds:").strip())
    found = pc.extract_regex(students["userIds"], rf"\{{\s*(?i:{kind})\s*:\s*(?P<id>[^{{}}]*?)\s*\}}")
    return pc.fill_null(pc.struct_field(found, "id"), "")


def _first_grade(grades: pa.ChunkedArray) -> pa.Array:
    lists = pc.split_pattern(grades.combine_chunks(), ",", max_splits=1)
    return pc.utf8_trim_whitespace(pc.list_element(lists, 0))


def _column_or_empty(table: pa.Table, column: str) -> pa.ChunkedArray | pa.Array:
    if column in table.column_names:
        return table[column]
    return pa.array([""] * table.num_rows, pa.large_string())


def _status(students: pa.Table) -> pa.Array:
    status = pc.utf8_lower(pc.utf8_trim_whitespace(_column_or_empty(students, "status")))
    enabled = pc.utf8_lower(pc.utf8_trim_whitespace(_column_or_empty(students, "enabledUser")))
    known_status = pc.is_in(status, value_set=pa.array(["", "active", *_INACTIVE_STATUS], pa.large_string()))
    known_enabled = pc.is_in(enabled, value_set=pa.array(["", "true", "false"], pa.large_string()))
    inactive = pc.or_(
        pc.is_in(status, value_set=pa.array(_INACTIVE_STATUS, pa.large_string())), pc.equal(enabled, "false")
    )
    words = pc.if_else(inactive, "inactive", "active")
    raw_status = pc.utf8_trim_whitespace(_column_or_empty(students, "status"))
    raw_enabled = pc.utf8_trim_whitespace(_column_or_empty(students, "enabledUser"))
    words = pc.if_else(known_enabled, words, raw_enabled)
    return pc.if_else(known_status, words, raw_status)


def _gender(sex: pa.Array) -> pa.Array:
    keys = pa.array(list(ONEROSTER_SEX_CODES), pa.large_string())
    at = pc.index_in(pc.utf8_lower(pc.utf8_trim_whitespace(sex)), value_set=keys)
    codes = pa.array(list(ONEROSTER_SEX_CODES.values()), pa.large_string()).take(at)
    return pc.coalesce(codes, sex)


def _large(values: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    values = values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])
    return values.cast(pa.large_string())


def _notes(package: Package, students: pa.Table, users: pa.Table, missing: np.ndarray) -> list[str]:
    version = package.version
    notes = [f"OneRoster {version} bulk package: {students.num_rows} students among {users.num_rows} users"]
    if missing.any():
        rows = students["row_number"].to_numpy()[missing]
        shown = ", ".join(str(r) for r in rows[:20]) + (", ..." if len(rows) > 20 else "")
        notes.append(
            f"demographics.csv has no row for {len(rows)} student(s) (users.csv rows {shown}): "
            "their date of birth is empty"
        )
    return notes


__all__ = [
    "EXTENSION_FIELDS",
    "ONEROSTER_DATE_FORMAT",
    "ONEROSTER_FIELDS",
    "ONEROSTER_SEX_CODES",
    "ONEROSTER_STATUS_VALUES",
    "STATE_ID_COLUMNS",
    "SUPPORTED_VERSIONS",
    "check_extensions",
    "check_state_id",
    "read_oneroster",
]
