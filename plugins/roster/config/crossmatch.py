"""Cross-match tables: a district's grade, campus and diagnosis codes mapped to Rethink Ed's codes.

Each table is ``<crossmatch folder>/<table>.csv`` with header ``district_code,rethink_code`` and an
optional ``description``. A code listed twice is an error even when both rows agree, because the
point person editing the file should see one row per code.

Given the district's layout, ``load_crossmatch`` also checks every row's ``rethink_code`` against the
vendor's code list for that field, when the layout names one (``vendor_codes``, see
``roster.config.vendor_codes``).

The tables may be remote (an fsspec URL or the district's SFTP folder, ``roster.config.
crossmatch_source``); they are then read from a local copy, and errors name the table's URL. Every
table read is recorded by its SHA-256 (``CrossMatch.versions``, ``crossmatch`` in ``qa_report.json``).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from roster.config import District, Layout, resolve
from roster.config.crossmatch_source import TableFile, is_remote, table_file
from roster.config.layout import layout_path
from roster.config.vendor_codes import VendorCodes, load_vendor_codes
from roster.errors import ConfigError

#: table name -> the canonical field it maps
TABLES = {"grades": "grade", "campuses": "campus", "diagnoses": "diagnosis"}
_HEADER = ["district_code", "rethink_code"]


@dataclass(frozen=True)
class TableVersion:
    """Which version of a table a night used: the SHA-256 of its bytes, and where it was read."""

    sha256: str
    source: str


@dataclass(frozen=True)
class CrossMatch:
    """Each table as district code -> Rethink Ed code; ``versions``: table -> the version read."""

    grades: dict[str, str]
    campuses: dict[str, str]
    diagnoses: dict[str, str]
    versions: dict[str, TableVersion] = field(default_factory=dict)

    def for_field(self, field: str) -> dict[str, str]:
        return {"grade": self.grades, "campus": self.campuses, "diagnosis": self.diagnoses}[field]


@dataclass(frozen=True)
class TableRow:
    """One row of a table as written: where it is, for errors that name the line."""

    district_code: str
    rethink_code: str
    description: str
    line: int


def read_table(path: Path) -> dict[str, str]:
    """One cross-match CSV as a dict; a readable ``ConfigError`` for any fault, naming file and line."""
    return as_dict(read_rows(path))


def as_dict(rows: list[TableRow]) -> dict[str, str]:
    return {r.district_code: r.rethink_code for r in rows}


def read_rows(path: Path, shown: str | None = None) -> list[TableRow]:
    """One cross-match CSV's rows with their line numbers (blank lines skipped); errors as ``read_table``.

    Errors name the file as ``shown`` when given (a remote table's URL, not the path of its copy).
    """
    return _read_version(path, shown or str(path))[0]


def _read_version(path: Path, shown: str) -> tuple[list[TableRow], str]:
    """The rows of the table at ``path`` and the SHA-256 of the very bytes they were parsed from."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{shown}: cross-match table not found") from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot be read as UTF-8 CSV ({exc})") from None
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{shown}: cannot be read as UTF-8 CSV ({exc})") from None
    return _parse(rows, shown), hashlib.sha256(data).hexdigest()


def _parse(rows: list[list[str]], path: str) -> list[TableRow]:
    if not rows:
        raise ConfigError(f"{path}: empty; expected the header district_code,rethink_code")
    header = [h.strip() for h in rows[0]]
    if header[:2] != _HEADER or header[2:] not in ([], ["description"]):
        raise ConfigError(
            f"{path}: line 1: header must be district_code,rethink_code[,description], found {','.join(header)}"
        )
    table: list[TableRow] = []
    seen: set[str] = set()
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ConfigError(f"{path}: line {line}: expected {len(header)} fields, found {len(row)}")
        code, rethink = row[0].strip(), row[1].strip()
        if not code or not rethink:
            raise ConfigError(f"{path}: line {line}: district_code and rethink_code must both be filled in")
        if code in seen:
            raise ConfigError(f"{path}: line {line}: district_code {code!r} is listed twice")
        seen.add(code)
        table.append(TableRow(code, rethink, row[2].strip() if len(row) > 2 else "", line))
    return table


def check_vendor_codes(lists: Mapping[str, VendorCodes], tables: Mapping[Path | TableFile, list[TableRow]]) -> None:
    """A ``ConfigError`` naming the first row (table, line, code, list) that maps to a code the vendor's
    list for its field does not have, with the closest valid code when one is close; tables whose field
    has no list are not checked. A table is given by its path (``<table>.csv``) or as a ``TableFile``."""
    bad: list[tuple[TableFile, TableRow, VendorCodes]] = []
    for key, rows in tables.items():
        found = key if isinstance(key, TableFile) else TableFile(key.stem, key, str(key))
        codes = lists.get(TABLES.get(found.table, ""))
        if codes is not None:
            bad += [(found, r, codes) for r in rows if r.rethink_code not in codes.codes]
    if not bad:
        return
    table, first, codes = bad[0]
    message = (
        f"{table.source}: line {first.line}: rethink_code {first.rethink_code!r} is not one of the vendor's "
        f"{TABLES[table.table]} codes ({codes.path})"
    )
    closest = codes.closest(first.rethink_code)
    message += f"; did you mean {closest!r}?" if closest else f"; the list has {len(codes.codes)} codes"
    if len(bad) > 1:
        more = len(bad) - 1
        message += f" ({more} more row{'' if more == 1 else 's'} of the cross-match tables map to codes not listed)"
    raise ConfigError(message)


def load_crossmatch(
    root: Path,
    district: District,
    layout: Layout | None = None,
    copies: Path | None = None,
    cache: dict[TableFile, tuple[list[TableRow], str]] | None = None,
) -> CrossMatch:
    """The district's three tables; diagnoses may be absent when the district maps no diagnosis.

    With the district's ``layout``, every row is also checked against the vendor code lists the layout
    names (``check_vendor_codes``). Remote tables are read from their copies in ``copies``
    (``roster.io.crossmatch_copy.copy_tables``). ``cache``, when given, keeps each table read (its rows
    and SHA-256) for the next call: parsing the DAG folder reads a table shared by districts once.
    """
    if not is_remote(district.crossmatch):
        folder = resolve(root, district.crossmatch)
        if not folder.is_dir():
            raise ConfigError(
                f"{folder}: cross-match folder not found (key 'crossmatch' of district {district.district_id})"
            )
    files = [table_file(root, district.crossmatch, t, copies) for t in TABLES]
    needs_diagnoses = district.source.columns.diagnosis is not None
    files = [f for f in files if f.table != "diagnoses" or needs_diagnoses or f.path.exists()]
    cache = cache if cache is not None else {}
    for f in files:
        if f not in cache:
            cache[f] = _read_version(f.path, f.source)
    read = {f: cache[f] for f in files}
    tables: dict[Path | TableFile, list[TableRow]] = {f: rows for f, (rows, _) in read.items()}
    if layout is not None and layout.vendor_codes:
        lists = load_vendor_codes(root, layout.vendor_codes, layout_path(root, district.destination.layout))
        check_vendor_codes(lists, tables)
    found = {f.table: as_dict(rows) for f, (rows, _) in read.items()}
    versions = {
        f.table: TableVersion(sha256=digest, source=_source(district.crossmatch, f)) for f, (_, digest) in read.items()
    }
    return CrossMatch(
        grades=found["grades"], campuses=found["campuses"], diagnoses=found.get("diagnoses", {}), versions=versions
    )


def _source(spec: str, found: TableFile) -> str:
    """A table as ``qa_report.json`` names it: its URL, or its path as the district file writes it."""
    return found.source if is_remote(spec) else f"{spec.rstrip('/')}/{found.table}.csv"
