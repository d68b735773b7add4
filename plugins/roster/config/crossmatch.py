"""Cross-match tables: a district's grade, campus and diagnosis codes mapped to Rethink Ed's codes.

Each table is ``<crossmatch folder>/<table>.csv`` with header ``district_code,rethink_code`` and an
optional ``description``. A code listed twice is an error even when both rows agree, because the
point person editing the file should see one row per code.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from roster.config import District, resolve
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


def read_table(path: Path) -> dict[str, str]:
    """One cross-match CSV as a dict; a readable ``ConfigError`` for any fault, naming file and line."""
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
    table: dict[str, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ConfigError(f"{path}: line {line}: expected {len(header)} fields, found {len(row)}")
        code, rethink = row[0].strip(), row[1].strip()
        if not code or not rethink:
            raise ConfigError(f"{path}: line {line}: district_code and rethink_code must both be filled in")
        if code in table:
            raise ConfigError(f"{path}: line {line}: district_code {code!r} is listed twice")
        table[code] = rethink
    return table


def load_crossmatch(root: Path, district: District) -> CrossMatch:
    """The district's three tables; diagnoses may be absent when the district maps no diagnosis."""
    folder = resolve(root, district.crossmatch)
    if not folder.is_dir():
        raise ConfigError(
            f"{folder}: cross-match folder not found (key 'crossmatch' of district {district.district_id})"
        )
    diagnoses = folder / "diagnoses.csv"
    needs_diagnoses = district.source.columns.diagnosis is not None
    return CrossMatch(
        grades=read_table(folder / "grades.csv"),
        campuses=read_table(folder / "campuses.csv"),
        diagnoses=read_table(diagnoses) if needs_diagnoses or diagnoses.exists() else {},
    )
