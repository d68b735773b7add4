"""Cross-match tables: a district's grade, campus and diagnosis codes mapped to Rethink Ed's codes.

Each table is ``<crossmatch folder>/<table>.csv`` with header ``district_code,rethink_code`` and an
optional ``description``. A code listed twice is an error even when both rows agree, because the
point person editing the file should see one row per code.

Given the district's layout, ``load_crossmatch`` also checks every row's ``rethink_code`` against the
vendor's code list for that field, when the layout names one (``vendor_codes``, see
``roster.config.vendor_codes``).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from roster.config import District, Layout, resolve
from roster.config.layout import layout_path
from roster.config.vendor_codes import VendorCodes, load_vendor_codes
from roster.errors import ConfigError

#: table name -> the canonical field it maps
TABLES = {"grades": "grade", "campuses": "campus", "diagnoses": "diagnosis"}
_HEADER = ["district_code", "rethink_code"]


@dataclass(frozen=True)
class CrossMatch:
    """Each table as district code -> Rethink Ed code."""

    grades: dict[str, str]
    campuses: dict[str, str]
    diagnoses: dict[str, str]

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


def read_rows(path: Path) -> list[TableRow]:
    """One cross-match CSV's rows with their line numbers (blank lines skipped); errors as ``read_table``."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise ConfigError(f"{path}: cross-match table not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path}: cannot be read as UTF-8 CSV ({exc})") from None
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


def check_vendor_codes(lists: Mapping[str, VendorCodes], tables: Mapping[Path, list[TableRow]]) -> None:
    """A ``ConfigError`` naming the first row (table, line, code, list) that maps to a code the vendor's
    list for its field does not have, with the closest valid code when one is close; tables whose field
    has no list are not checked."""
    bad: list[tuple[Path, TableRow, VendorCodes]] = []
    for path, rows in tables.items():
        codes = lists.get(TABLES.get(path.stem, ""))
        if codes is not None:
            bad += [(path, r, codes) for r in rows if r.rethink_code not in codes.codes]
    if not bad:
        return
    path, first, codes = bad[0]
    message = (
        f"{path}: line {first.line}: rethink_code {first.rethink_code!r} is not one of the vendor's "
        f"{TABLES[path.stem]} codes ({codes.path})"
    )
    closest = codes.closest(first.rethink_code)
    message += f"; did you mean {closest!r}?" if closest else f"; the list has {len(codes.codes)} codes"
    if len(bad) > 1:
        more = len(bad) - 1
        message += f" ({more} more row{'' if more == 1 else 's'} of the cross-match tables map to codes not listed)"
    raise ConfigError(message)


def load_crossmatch(root: Path, district: District, layout: Layout | None = None) -> CrossMatch:
    """The district's three tables; diagnoses may be absent when the district maps no diagnosis.

    With the district's ``layout``, every row is also checked against the vendor code lists the layout
    names (``check_vendor_codes``).
    """
    folder = resolve(root, district.crossmatch)
    if not folder.is_dir():
        raise ConfigError(
            f"{folder}: cross-match folder not found (key 'crossmatch' of district {district.district_id})"
        )
    diagnoses = folder / "diagnoses.csv"
    needs_diagnoses = district.source.columns.diagnosis is not None
    paths = [folder / "grades.csv", folder / "campuses.csv"]
    if needs_diagnoses or diagnoses.exists():
        paths.append(diagnoses)
    tables = {path: read_rows(path) for path in paths}
    if layout is not None and layout.vendor_codes:
        lists = load_vendor_codes(root, layout.vendor_codes, layout_path(root, district.destination.layout))
        check_vendor_codes(lists, tables)
    found = {path.stem: as_dict(rows) for path, rows in tables.items()}
    return CrossMatch(grades=found["grades"], campuses=found["campuses"], diagnoses=found.get("diagnoses", {}))
