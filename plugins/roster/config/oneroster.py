"""``source.oneroster``: how a OneRoster 1.1/1.2 bulk package maps to the canonical fields.

OneRoster fixes what a flat CSV district writes in its file: the columns (``users.csv`` and
``demographics.csv`` by their standard names), ISO dates and the status words. So a district with
``source.format: oneroster`` writes none of ``columns``, ``delimiter``, ``date_format`` and
``status_values``; ``oneroster_source_defaults`` fills them with what the package reader
(``roster.io.oneroster``) gives. What a district still chooses is which users.csv column is the State
Test Number and which extension (``metadata.*``) columns carry the fields OneRoster has no column for.

No pyarrow here: the DAG file parses district files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator

from roster.config.files import KeyValueError, Strict

#: ``source.date_format`` of a OneRoster district: ``birthDate`` is an ISO date.
ONEROSTER_DATE_FORMAT = "%Y-%m-%d"
#: ``source.status_values`` of a OneRoster district: the words the package reader writes.
ONEROSTER_STATUS_VALUES: dict[str, list[str]] = {"active": ["active"], "inactive": ["inactive"]}
#: The canonical fields every OneRoster package carries (the extensions come on top).
ONEROSTER_FIELDS = (
    "state_test_number",
    "legal_first_name",
    "legal_last_name",
    "date_of_birth",
    "grade",
    "campus",
    "status",
    "local_student_id",
    "legal_middle_name",
    "gender",
)
#: The canonical fields an extension column may carry: the optional ones OneRoster has no column for.
EXTENSION_FIELDS = ("diagnosis", "ela_score", "math_score", "entry_date", "exit_date")
#: ``users.csv`` columns ``state_id`` may name as they are.
STATE_ID_COLUMNS = ("identifier", "username", "userMasterIdentifier")
#: The keys of ``source`` that OneRoster fixes, so a OneRoster district does not write them.
FIXED_BY_ONEROSTER = ("columns", "delimiter", "date_format", "status_values")


def check_state_id(value: str) -> str:
    """``identifier | username | userMasterIdentifier | userIds:<type> | metadata.<column>``."""
    if value in STATE_ID_COLUMNS:
        return value
    if value.startswith("userIds:") and value.removeprefix("userIds:").strip() and "}" not in value:
        return value
    if value.startswith("metadata.") and len(value) > len("metadata."):
        return value
    raise ValueError(
        f"{value!r} is not a OneRoster id; use identifier, username, userMasterIdentifier, "
        "userIds:<type> or metadata.<column>"
    )


def check_extensions(extensions: Mapping[str, str]) -> dict[str, str]:
    """Field -> ``metadata.*`` column, each field one OneRoster has no column for, each column once."""
    for field, column in extensions.items():
        if field not in EXTENSION_FIELDS:
            raise ValueError(
                f"{field!r} cannot come from an extension column; use one of {', '.join(EXTENSION_FIELDS)}"
            )
        if not column.startswith("metadata.") or len(column) == len("metadata."):
            raise ValueError(f"{field}: {column!r} is not an extension column; name a metadata.<column> column")
    columns = list(extensions.values())
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise ValueError(f"column {repeated[0]!r} is named for more than one field")
    return dict(extensions)


class OneRosterSource(Strict):
    """How the OneRoster package maps to the roster (``source.format: oneroster``)."""

    state_id: Annotated[str, AfterValidator(check_state_id)] = "identifier"
    """The users.csv value that is the State Test Number: ``identifier``, ``username``,
    ``userMasterIdentifier`` (1.2), ``userIds:<type>`` (the id of that type in ``userIds``) or
    ``metadata.<column>``."""
    extensions: Annotated[dict[str, str], AfterValidator(check_extensions)] = {}
    """Canonical field (diagnosis, ela_score, math_score, entry_date, exit_date) -> the ``metadata.*``
    column of users.csv (or demographics.csv) that carries it."""


def oneroster_source_defaults(data: Any) -> Any:
    """The raw ``source`` mapping of a OneRoster district with the keys OneRoster fixes filled in.

    A district that writes one of them anyway gets an error naming the key: a ``columns`` mapping
    or a ``date_format`` written there would look as if it applied, and it would not.
    """
    if not isinstance(data, dict) or data.get("format") != "oneroster":
        return data
    written = [key for key in FIXED_BY_ONEROSTER if key in data]
    if written:
        raise KeyValueError(
            written[0],
            f"{written[0]} is fixed by OneRoster with format: oneroster; remove it "
            "(the package's columns, ISO dates and status words are read as the standard defines them)",
        )
    oneroster = data.get("oneroster")
    extensions = oneroster.get("extensions") if isinstance(oneroster, dict) else None
    if not isinstance(extensions, dict):
        extensions = {}  # the model reports what is wrong with it
    fields = [*ONEROSTER_FIELDS, *(f for f in EXTENSION_FIELDS if f in extensions)]
    return {
        **data,
        "columns": {field: field for field in fields},
        "date_format": ONEROSTER_DATE_FORMAT,
        "status_values": ONEROSTER_STATUS_VALUES,
    }
