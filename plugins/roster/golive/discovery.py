"""Cross-match discovery: which grade, campus and diagnosis codes an SIS export uses, and which the
district's cross-match tables still lack (``roster crossmatch``).

The export is read exactly as a night reads it (``roster.io.export``: text only, spaces trimmed), and
codes are counted with Arrow's ``value_counts``, so a multi-million-row export is counted in one pass
per column. Empty values are not codes: they cannot be put in a table (a night rejects an empty grade
or campus; an empty diagnosis is allowed), so they are counted apart as ``empty``.

Only codes, counts and Rethink Ed codes reach the reports: no student data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from roster.config import District, resolve
from roster.config.crossmatch import TABLES, CrossMatch, read_table
from roster.io import artifacts
from roster.io.report_csv import rows_bytes

REPORT = "crossmatch_report.csv"
REPORT_COLUMNS = ["table", "district_code", "rows", "rethink_code"]
MISSING_COLUMNS = ["district_code", "rethink_code", "description"]


def missing_name(table: str) -> str:
    """The ready-to-fill file of one table's unmapped codes."""
    return f"missing_{table}.csv"


@dataclass(frozen=True)
class CodeCount:
    table: str
    district_code: str
    rows: int
    rethink_code: str  # "" where unmapped


@dataclass
class Discovery:
    """Every distinct code per table with its row count and Rethink Ed code."""

    codes: list[CodeCount]
    #: table -> rows whose value is empty (not a code)
    empty: dict[str, int] = field(default_factory=dict)
    rows_read: int = 0
    ragged_rows: list[int] = field(default_factory=list)

    @property
    def unmapped(self) -> list[CodeCount]:
        return [c for c in self.codes if not c.rethink_code]

    def unmapped_by_table(self) -> dict[str, list[CodeCount]]:
        out: dict[str, list[CodeCount]] = {}
        for code in self.unmapped:
            out.setdefault(code.table, []).append(code)
        return out


def tables_for(district: District) -> dict[str, str]:
    """Table -> canonical field, for the fields this district's export carries (diagnosis is optional)."""
    mapped = district.source.columns.mapped()
    return {table: column for table, column in TABLES.items() if column in mapped}


def load_tables(root: Path, district: District) -> tuple[CrossMatch, list[Path]]:
    """The district's tables, where a table not written yet counts as empty; the absent files.

    Discovery is how a new district starts its tables, so a missing folder or file is not an error
    here (every code is then unmapped); a table that exists but is malformed still is.
    """
    folder = resolve(root, district.crossmatch)
    tables: dict[str, dict[str, str]] = {}
    absent: list[Path] = []
    for table in TABLES:
        path = folder / f"{table}.csv"
        if path.is_file():
            tables[table] = read_table(path)
        else:
            tables[table] = {}
            absent.append(path)
    return CrossMatch(**tables), absent


def discover(export_path: Path, district: District, crossmatch: CrossMatch) -> Discovery:
    """Count every distinct code of the export against the cross-match tables."""
    import pyarrow.compute as pc

    from roster.io.export import read_export

    export = read_export(export_path, district.source)
    codes: list[CodeCount] = []
    empty: dict[str, int] = {}
    for table, column in tables_for(district).items():
        mapping = crossmatch.for_field(column)
        counts = pc.value_counts(export.table[column])
        found = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
        per_code: dict[str, int] = {}
        for value, count in found:
            if value == "":
                empty[table] = int(count)
            else:
                per_code[value] = int(count)
        codes.extend(CodeCount(table, code, per_code[code], mapping.get(code, "")) for code in sorted(per_code))
    return Discovery(codes=codes, empty=empty, rows_read=export.rows_read, ragged_rows=list(export.ragged_rows))


def write_discovery(result: Discovery, out_dir: Path) -> list[Path]:
    """``crossmatch_report.csv`` and one ``missing_<table>.csv`` per table with unmapped codes.

    A ``missing_<table>.csv`` left by an earlier run is removed when that table is now complete, so
    the folder never shows codes that were since mapped.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / REPORT
    artifacts.write_bytes(
        report,
        rows_bytes(REPORT_COLUMNS, [[c.table, c.district_code, c.rows, c.rethink_code] for c in result.codes]),
    )
    written = [report]
    unmapped = result.unmapped_by_table()
    for table in TABLES:
        path = out_dir / missing_name(table)
        if table in unmapped:
            # Most frequent first: the codes that reject the most rows are the ones to map first.
            rows = sorted(unmapped[table], key=lambda c: (-c.rows, c.district_code))
            data = rows_bytes(MISSING_COLUMNS, [[c.district_code, "", ""] for c in rows])
            artifacts.write_bytes(path, data, recorded=True)  # removed once the table is complete
            written.append(path)
        else:
            artifacts.remove_written(path)  # only one this step wrote: never a file of the user's
    return written


def _rows(n: int) -> str:
    return f"{n} row{'' if n == 1 else 's'}"


def summary(result: Discovery) -> str:
    """One line for the terminal or a task log: counts only."""
    parts = []
    for table in TABLES:
        in_table = [c for c in result.codes if c.table == table]
        if not in_table and table not in result.empty:
            continue
        missing = [c for c in in_table if not c.rethink_code]
        text = f"{table}: {len(in_table)} codes, {len(missing)} unmapped"
        if missing:
            text += f" ({_rows(sum(c.rows for c in missing))})"
        if result.empty.get(table):
            text += f", {_rows(result.empty[table])} empty"
        parts.append(text)
    line = f"{_rows(result.rows_read)} read; " + "; ".join(parts)
    if result.ragged_rows:
        shown = ", ".join(str(n) for n in result.ragged_rows[:10])
        more = "" if len(result.ragged_rows) <= 10 else f" and {len(result.ragged_rows) - 10} more"
        line += f"; rows not counted (wrong number of columns): {shown}{more}"
    return line


__all__ = [
    "REPORT",
    "CodeCount",
    "Discovery",
    "discover",
    "load_tables",
    "missing_name",
    "summary",
    "tables_for",
    "write_discovery",
]
