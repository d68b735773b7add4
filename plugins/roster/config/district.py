"""District files, ``include/districts/<district_id>.yaml``: pydantic models that read as the specification.

A wrong file gets one ``ConfigError`` naming the file and the dotted key (``source.columns.grade``).
This module imports no pandas, so the DAG file can parse hundreds of districts cheaply.
"""

from __future__ import annotations

import codecs
import datetime as dt
import functools
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from roster.config.crossmatch_source import check_spec
from roster.config.files import KeyValueError, Strict, format_error, read_yaml
from roster.config.oneroster import FIXED_BY_ONEROSTER, OneRosterSource, oneroster_source_defaults
from roster.errors import ConfigError

DISTRICT_ID_PATTERN = r"^[a-z][a-z0-9_]{1,40}$"
DEFAULT_STATE_ID_PATTERN = r"^[0-9A-Za-z]{4,20}$"
#: An Airflow pool name as ``include/pools.yaml`` and ``destination.pool`` write it.
POOL_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,256}$"
#: Ids whose DAG id ``roster_<id>`` is taken by the project's own DAGs.
RESERVED_DISTRICT_IDS = ("go_live", "watchdog")

#: Canonical fields every export must carry.
REQUIRED_FIELDS = (
    "state_test_number",
    "legal_first_name",
    "legal_last_name",
    "date_of_birth",
    "grade",
    "campus",
    "status",
)
#: Canonical fields a district may map when its SIS has them.
OPTIONAL_FIELDS = (
    "local_student_id",
    "legal_middle_name",
    "gender",
    "diagnosis",
    "ela_score",
    "math_score",
    "entry_date",
    "exit_date",
)
CANONICAL_FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_SAMPLE_DATE = dt.date(2026, 1, 31)


def parse_duration(value: Any) -> dt.timedelta:
    """``30s``, ``15m``, ``3h`` or ``2d`` as a timedelta."""
    if isinstance(value, dt.timedelta):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration; write e.g. 30s, 15m, 3h or 2d")
    return dt.timedelta(**{_DURATION_UNITS[match[2]]: int(match[1])})


Duration = Annotated[dt.timedelta, BeforeValidator(parse_duration)]


def _check_date_template(value: str) -> str:
    try:
        value.format(date=_SAMPLE_DATE)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"{value!r} is not a valid template; only {{date:%Y%m%d}}-style placeholders are allowed ({exc})"
        ) from None
    return value


DateTemplate = Annotated[str, BeforeValidator(lambda v: _check_date_template(str(v)))]
Email = Annotated[str, Field(pattern=r"^[^@\s,;]+@[^@\s,;]+$")]
#: A person's name as an email shows it beside an address: no address punctuation, no line breaks,
#: no surrounding spaces.
PERSON_NAME_PATTERN = r"^[^<>@,;\s]([^<>@,;\r\n\t]*[^<>@,;\s])?$"


def _check_person_name(value: str) -> str:
    if not re.match(PERSON_NAME_PATTERN, value):
        raise ValueError(
            f"{value!r} is not a name as an email shows it: write the name alone (Jane Doe), without <, >, @, "
            "a comma, a semicolon, a line break or surrounding spaces"
        )
    return value


PersonName = Annotated[
    str,
    Field(min_length=1, max_length=100, json_schema_extra={"pattern": PERSON_NAME_PATTERN}),
    AfterValidator(_check_person_name),
]


class StatusValues(Strict):
    active: list[str] = Field(min_length=1)
    """Status codes of an enrolled student."""
    inactive: list[str] = Field(min_length=1)
    """Status codes of a student who left; sent as inactive. A code in neither list is ``unknown_status``."""

    @model_validator(mode="after")
    def _disjoint(self) -> StatusValues:
        both = set(self.active) & set(self.inactive)
        if both:
            raise ValueError(f"{sorted(both)} listed as both active and inactive")
        return self


class SourceColumns(Strict):
    """Canonical field -> the SIS export's header."""

    state_test_number: str
    """Header of the column with the State Test Number, the id that keys every student at the vendor."""
    legal_first_name: str
    """Header of the column with the legal first name."""
    legal_last_name: str
    """Header of the column with the legal last name."""
    date_of_birth: str
    """Header of the column with the date of birth, in ``source.date_format``."""
    grade: str
    """Header of the column with the grade code, mapped through the cross-match table ``grades.csv``."""
    campus: str
    """Header of the column with the campus code, mapped through ``campuses.csv``."""
    status: str
    """Header of the column with the enrollment status, one of ``source.status_values``."""
    local_student_id: str | None = None
    """Header of the column with the district's own student id, when the SIS has one."""
    legal_middle_name: str | None = None
    """Header of the column with the legal middle name."""
    gender: str | None = None
    """Header of the column with the gender code."""
    diagnosis: str | None = None
    """Header of the column with the diagnosis (primary disability) code, mapped through ``diagnoses.csv``."""
    ela_score: str | None = None
    """Header of the column with the ELA score, a plain number."""
    math_score: str | None = None
    """Header of the column with the math score, a plain number."""
    entry_date: str | None = None
    """Header of the column with the entry date, in ``source.date_format``."""
    exit_date: str | None = None
    """Header of the column with the exit date, in ``source.date_format``."""

    def mapped(self) -> dict[str, str]:
        """Canonical field -> header, for the fields this district maps."""
        return {k: v for k, v in self.model_dump().items() if v is not None}

    @model_validator(mode="after")
    def _distinct_headers(self) -> SourceColumns:
        headers = list(self.mapped().values())
        repeated = sorted({h for h in headers if headers.count(h) > 1})
        if repeated:
            raise ValueError(f"header {repeated[0]!r} is mapped to more than one field")
        return self


def _check_encoding(value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"unknown encoding {value!r}") from None
    return value


def _check_pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    return value


def _source_schema(schema: dict[str, Any]) -> None:
    """``columns`` and ``status_values`` are required except with ``format: oneroster`` (JSON Schema's
    if/then, since the model fills them in for OneRoster before checking)."""
    fixed = ["columns", "status_values"]
    schema["required"] = [key for key in schema.get("required", []) if key not in fixed]
    schema["if"] = {"properties": {"format": {"const": "oneroster"}}, "required": ["format"]}
    schema["then"] = {"not": {"anyOf": [{"required": [key]} for key in FIXED_BY_ONEROSTER]}}
    schema["else"] = {"required": fixed}


class Source(Strict):
    """Tonight's SIS export: where it is and how to read it."""

    model_config = ConfigDict(json_schema_extra=_source_schema)

    path: DateTemplate
    """The export: relative to the include root, absolute, or ``sftp://<conn_id>/<path>``;
    ``{date:%Y%m%d}`` becomes the roster date. With ``format: oneroster`` a ``.zip`` or a folder holding
    ``manifest.csv`` (a folder only on a local path: over ``sftp://`` the package is a ``.zip``)."""
    format: Literal["csv", "oneroster", "xlsx"] = "csv"
    """What the export is: ``csv`` (delimited text), ``oneroster`` (a OneRoster 1.1/1.2 bulk package, a
    ``.zip`` or a folder; then ``columns``, ``delimiter``, ``date_format`` and ``status_values`` are fixed by
    the standard and not written; grades are CEDS codes) or ``xlsx`` (an Excel workbook: ``columns`` are the
    header row's cells, date cells are dates whatever ``date_format`` says, text cells are parsed with it,
    numbers are read as the sheet shows them; ``delimiter`` and ``encoding`` are not written)."""
    sheet: str | int | None = None
    """With ``format: xlsx``: the sheet, by name or 0-based index (hidden sheets counted); default the first."""
    oneroster: OneRosterSource | None = None
    """With ``format: oneroster``: which users.csv value is the State Test Number, and the extension columns."""
    encoding: Annotated[str, BeforeValidator(_check_encoding)] = "utf-8"
    """The export's text encoding, a Python codec name (``utf-8``, ``cp1252``, ``latin-1``); not written with
    ``format: xlsx``."""
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    """The export's field separator, one character; not written with ``format: xlsx``."""
    date_format: str = "%m/%d/%Y"
    """strftime format of the export's dates (date of birth, entry and exit dates); it must give a full date."""
    state_id_pattern: Annotated[str, BeforeValidator(_check_pattern)] = DEFAULT_STATE_ID_PATTERN
    """Regular expression a State Test Number must match; a row whose id does not is ``bad_state_id``."""
    wait_for: Duration = dt.timedelta(hours=3)
    """How long ``wait_for_export`` waits for tonight's export before failing: ``30s``, ``15m``, ``3h``, ``2d``."""
    wait_mode: Literal["deferrable", "reschedule"] = "deferrable"
    """How ``wait_for_export`` waits: ``deferrable`` (in Airflow's triggerer, holding no worker slot; needs a
    triggerer running) or ``reschedule`` (the task is rescheduled every ``ROSTER_SENSOR_POKE_SECONDS``, holding
    a slot only while it looks). Either way a missing export fails the night after ``wait_for``."""
    status_values: StatusValues
    """The export's status codes."""
    columns: SourceColumns
    """The export's header for each canonical field it carries."""
    duplicate_rows: Literal["reject", "merge"] = "reject"
    """Rows sharing a State Test Number: ``reject`` them all, or ``merge`` enrollment-grain rows of one
    student (same legal names and DOB) into one: active over inactive, then latest entry date, then first row."""

    @model_validator(mode="before")
    @classmethod
    def _fixed_by_oneroster(cls, data: Any) -> Any:
        return oneroster_source_defaults(data)

    @model_validator(mode="after")
    def _format_keys(self) -> Source:
        if self.sheet is not None and self.format != "xlsx":
            raise KeyValueError("sheet", f"sheet is read only with format: xlsx, not format: {self.format}; remove it")
        if self.oneroster is not None and self.format != "oneroster":
            raise KeyValueError(
                "oneroster", f"oneroster is read only with format: oneroster, not format: {self.format}; remove it"
            )
        if self.format == "xlsx":
            # A workbook has cells, not delimited text: the key would look as if it applied.
            for key in ("delimiter", "encoding"):
                if key in self.model_fields_set:
                    raise KeyValueError(
                        key, f"{key} does not apply to format: xlsx (a workbook has cells, not text); remove it"
                    )
        if self.format == "oneroster" and self.path.startswith("sftp://") and not self.path.lower().endswith(".zip"):
            # A folder cannot be fetched as one file over SFTP, and half of one would pass for a package.
            raise ValueError(
                f"source.path {self.path!r}: with format: oneroster an sftp:// export must be a .zip "
                "(a package folder can only be read from a local path)"
            )
        return self

    @property
    def oneroster_mapping(self) -> OneRosterSource:
        """``oneroster``, or its defaults when the district does not write it."""
        return self.oneroster if self.oneroster is not None else OneRosterSource()

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, value: str) -> str:
        rendered = _SAMPLE_DATE.strftime(value)
        try:
            parsed = dt.datetime.strptime(rendered, value).date()
        except ValueError:
            parsed = None
        if parsed != _SAMPLE_DATE:
            raise ValueError(f"{value!r} does not give a full date; use strftime codes such as %m/%d/%Y")
        return value


class Destination(Strict):
    """Where the roster file goes, over SFTP, and in which layout."""

    conn_id: str = Field(min_length=1)
    """Airflow connection id of the vendor's SFTP server (with its ``host_key`` extra pinned)."""
    remote_dir: str = Field(pattern=r"^/")
    """Absolute remote folder of the live roster (``mode: live``)."""
    qa_remote_dir: str = Field(pattern=r"^/")
    """Absolute remote folder of the roster while ``mode`` is ``qa``."""
    filename: DateTemplate = Field(pattern=r"^[^/\\]+$")
    """Remote file name, no folder; ``{date:%Y%m%d}`` becomes the roster date."""
    layout: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    """The vendor file's layout: ``include/layouts/<layout>.yaml``."""
    pool: str | None = Field(default=None, pattern=POOL_NAME_PATTERN)
    """Airflow pool every SFTP task of the district runs in: ``upload_roster``; ``wait_for_export`` when the
    export is ``sftp://``; ``extract_export`` when the export or the cross-match folder is. Districts sharing
    a vendor name one pool, so its slots cap their SFTP sessions open at once. It must be declared in
    ``include/pools.yaml`` (``roster pools`` creates it); default none: Airflow's ``default_pool``."""


Rate = Annotated[float, Field(ge=0.0, le=1.0)]


class QaRules(Strict):
    """When a night is rejected, or held for a person's decision."""

    max_reject_rate: Rate
    """Largest share of rejected rows (0 to 1) with which the valid rows are still sent; above it nothing is
    sent and the point person gets the reasons."""
    max_deactivation_rate: Rate = 0.10
    """Largest share of the active students that may become inactive tonight; above it the night is held."""
    max_change_rate: Rate = 0.75
    """Largest share of all students that may change tonight; above it the night is held."""
    hold_timeout: Duration = dt.timedelta(hours=20)
    """How long a held night waits for Approve or Reject before it is rejected (the scheduler enforces it)."""
    carry_inactive_days: int = Field(default=365, ge=0)
    """How long a student absent from the export stays in the file as inactive before dropping."""
    required_nights: int = Field(default=3, ge=0)
    """Passed QA nights (delivered to ``destination.qa_remote_dir``) before ``roster go-live`` switches to live."""


class Blackout(Strict):
    """Roster dates without a night (a school holiday): such a night is skipped successfully."""

    start: dt.date
    """The first roster date skipped."""
    end: dt.date
    """The last roster date skipped (inclusive)."""

    @model_validator(mode="after")
    def _ordered(self) -> Blackout:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def covers(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


class Contacts(Strict):
    """Who gets which email: lists of addresses, and the name the emails give the coordinator."""

    point_person: list[Email] = Field(min_length=1)
    """The district's data person: QA failures, holds and night summaries."""
    coordinator: list[Email] = []
    """Copied on the point person's emails (the integration's coordinator)."""
    coordinator_name: PersonName | None = None
    """The coordinator's name: the QA-failure email and the nightly summary give the point person the
    coordinator as the contact, "Name (address)"; without it, the address alone. Needs ``coordinator``."""
    oncall: list[Email] = []
    """Every failed task, and the watchdog's stale-delivery email."""
    administrators: list[Email] = []
    """The go-live announcement to administrators (``roster announce``)."""
    teachers: list[Email] = []
    """The go-live announcement to teachers (``roster announce``)."""

    @field_validator("coordinator_name")
    @classmethod
    def _names_a_coordinator(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not info.data.get("coordinator"):
            raise ValueError(f"{value!r} names no one: list the coordinator's address in contacts.coordinator")
        return value


class Notify(Strict):
    """Emails beyond failures and holds."""

    summary: Literal["always", "on_rejects", "never"] = "on_rejects"
    """The email to the point person (cc the coordinator) after a delivered night: after ``always`` every
    one, ``on_rejects`` only a night with rejected rows or changes worth a look, ``never`` none."""


class GoLive(Strict):
    """Written by ``roster go-live --approved-by NAME``: who switched the district to live without the evidence."""

    approved_by: str = Field(min_length=1)
    """Who accepted the risk."""
    approved_on: dt.date
    """The day it was approved."""
    missing: list[str] = []
    """What was missing when the risk was accepted, as ``roster go-live`` listed it."""


class VendorColumns(Strict):
    """Canonical field -> the header of the vendor's roster export (``roster reconcile``)."""

    state_test_number: str = "State IDNumber"
    """Header of the State Test Number."""
    legal_first_name: str = "First Name"
    """Header of the legal first name."""
    legal_last_name: str = "Last Name"
    """Header of the legal last name."""
    date_of_birth: str = "Date of Birth"
    """Header of the date of birth."""
    status: str = "Enrollment Status"
    """Header of the enrollment status."""
    legal_middle_name: str | None = "Middle Name"
    """Header of the legal middle name. Compared when the vendor export has this column and the SIS export
    maps ``legal_middle_name``; a vendor export without it is reconciled without middle names (the summary
    says so). ``null``: never compared."""

    def mapped(self) -> dict[str, str]:
        """Canonical field -> header, for the fields mapped (``legal_middle_name: null`` is not)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class VendorExport(Strict):
    """The vendor's export of the students it holds, compared with the SIS by ``roster reconcile``."""

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    """Its field separator, one character."""
    date_format: str = "%m/%d/%Y"
    """strftime format of its dates of birth."""
    status_values: StatusValues = StatusValues(active=["Active"], inactive=["Inactive"])
    """Its status words."""
    columns: VendorColumns = VendorColumns()
    """Its header for each field compared."""


class District(Strict):
    """One district file, ``include/districts/<district_id>.yaml``."""

    district_id: str = Field(pattern=DISTRICT_ID_PATTERN)
    """The file name without ``.yaml``, and the DAG ``roster_<district_id>``: a lowercase letter, then 1 to 40
    lowercase letters, digits or underscores (not ``go_live`` or ``watchdog``)."""
    name: str = Field(min_length=1)
    """The district's name as emails and the DAG's description show it."""
    timezone: str
    """IANA time zone (``America/Chicago``): the schedule runs in it, and a night's roster date is the run's
    logical date in it."""
    schedule: str
    """Cron expression of the nightly run in ``timezone`` (``0 2 * * *``: 02:00 every day)."""
    start_date: dt.date
    """The first roster date scheduled."""
    mode: Literal["qa", "live"]
    """``qa`` sends to ``destination.qa_remote_dir`` while the vendor tests the integration, ``live`` to
    ``destination.remote_dir`` (``roster go-live`` switches it)."""
    source: Source
    """Tonight's SIS export."""
    crossmatch: str = Field(min_length=1)
    """Folder of the cross-match tables (``grades.csv``, ``campuses.csv``, ``diagnoses.csv``): relative to the
    include root, or remote so the district can update them without a release: an fsspec URL
    (``s3://bucket/dir``, ``file:///abs/dir``) or the district's SFTP folder ``sftp://<conn_id>/<dir>``
    (an Airflow connection id, then the folder's absolute path). A night copies remote tables into its
    run folder when it fetches the export and reads that copy to the end; ``qa_report.json`` records
    each table's SHA-256 (``crossmatch``)."""
    destination: Destination
    """Where the roster goes."""
    qa: QaRules
    """Quality thresholds."""
    blackout: list[Blackout] = []
    """Date ranges without a night."""
    contacts: Contacts
    """Email addresses, and the coordinator's name."""
    smtp_conn_id: str = "smtp_default"
    """Airflow connection id of the mail server that sends every email (``from_email`` in its extra)."""
    notify: Notify = Notify()
    """Emails beyond failures and holds."""
    vendor_export: VendorExport = VendorExport()
    """The vendor's export, for ``roster reconcile``."""
    go_live: GoLive | None = None
    """Written by ``roster go-live --approved-by NAME`` when the district went live without the evidence;
    absent otherwise."""

    @field_validator("district_id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_DISTRICT_IDS:
            raise ValueError(f"{value!r} is reserved (roster_{value} is one of the project's own DAGs)")
        return value

    @field_validator("crossmatch")
    @classmethod
    def _crossmatch(cls, value: str) -> str:
        return check_spec(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as America/Chicago") from None
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if not _valid_cron(value):
            raise ValueError(f"{value!r} is not a cron expression such as '0 2 * * *'")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def remote_dir(self) -> str:
        """Where tonight's file goes: the QA folder until the district is switched to live."""
        return self.destination.qa_remote_dir if self.mode == "qa" else self.destination.remote_dir

    def output_filename(self, roster_date: dt.date) -> str:
        return self.destination.filename.format(date=roster_date)

    def source_path(self, roster_date: dt.date) -> str:
        return self.source.path.format(date=roster_date)

    def in_blackout(self, roster_date: dt.date) -> Blackout | None:
        return next((b for b in self.blackout if b.covers(roster_date)), None)


@functools.lru_cache(maxsize=256)
def _valid_cron(expression: str) -> bool:
    """Whether croniter (Airflow's own cron parser, so what passes here Airflow accepts) reads the
    expression; kept, since most districts share a handful of schedules."""
    from croniter import croniter

    return bool(croniter.is_valid(expression))


def load_district(path: Path) -> District:
    """Read and validate one district file; its id must match its file name."""
    data = read_yaml(path)
    try:
        district = District.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_error(path, err)) from None
    if district.district_id != path.stem:
        raise ConfigError(f"{path}: key 'district_id': {district.district_id!r} must match the file name {path.stem!r}")
    return district


def district_files(root: Path) -> list[Path]:
    return sorted((root / "districts").glob("*.yaml"))


def check_district_id(district_id: str) -> str:
    """``district_id`` when it is a district name (``DISTRICT_ID_PATTERN``); a ``ConfigError`` otherwise.

    A district id from outside (a command-line argument, a DAG param) becomes a file and folder name:
    checked before any path is built, so ``../../x/y`` never reaches a file outside the include root.
    """
    if not isinstance(district_id, str) or not re.fullmatch(DISTRICT_ID_PATTERN, district_id):
        raise ConfigError(
            f"district id {district_id!r} is not a district name: a lowercase letter, then 1 to 40 lowercase "
            "letters, digits or underscores (the district_id of include/districts/<district_id>.yaml)"
        )
    return district_id


def find_district(root: Path, district_id: str) -> District:
    path = root / "districts" / f"{check_district_id(district_id)}.yaml"
    if not path.is_file():
        known = ", ".join(p.stem for p in district_files(root)) or "none"
        raise ConfigError(f"{path}: no such district file (districts in {root / 'districts'}: {known})")
    return load_district(path)
