"""Cross-match discovery: which grade, campus and diagnosis codes an SIS export uses, and which the
district's cross-match tables still lack (``roster crossmatch``).

The export is read exactly as a night reads it (``roster.io.export``: text only, spaces trimmed), and
codes are counted with Arrow's ``value_counts``, so a multi-million-row export is counted in one pass
per column. Empty values are not codes: they cannot be put in a table (a night rejects an empty grade
or campus; an empty diagnosis is allowed), so they are counted apart as ``empty``.

Only codes, counts and Rethink Ed codes reach the reports: no student data. A code the tables do
not map that looks like a date (a date of birth in the wrong column) is not echoed: each table's such
values are one ``[masked]`` row, and no ``missing_<table>.csv`` lists it.

Campuses the vendor has no sub-account for yet are ``subaccount_requests.csv``: every campus code of
the export that ``campuses.csv`` does not map (``unmapped``), or maps to a code missing from the
vendor's campus list when the layout names one (``not_at_vendor``, ``vendor_codes.campus``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from roster.config import District
from roster.config.crossmatch import TABLES, CrossMatch, TableRow, as_dict, read_rows
from roster.config.crossmatch_source import table_file
from roster.config.vendor_codes import VendorCodes
from roster.io import artifacts
from roster.io.report_csv import rows_bytes

REPORT = "crossmatch_report.csv"
REPORT_COLUMNS = ["table", "district_code", "rows", "rethink_code"]
MISSING_COLUMNS = ["district_code", "rethink_code", "description"]
SUBACCOUNTS = "subaccount_requests.csv"
SUBACCOUNT_COLUMNS = ["district_code", "rows", "active_rows", "rethink_code", "description", "reason"]
#: What a report shows instead of a value that looks like a date (as ``rejects.csv`` shows an id).
MASKED = "[masked]"


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
    #: campus code -> rows whose status is one of the district's active values
    campus_active: dict[str, int] = field(default_factory=dict)
    #: table -> rows whose value looked like a date, shown as one ``MASKED`` code
    masked: dict[str, int] = field(default_factory=dict)

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
    rows, absent = load_table_rows(root, district)
    return as_crossmatch(rows), absent


def as_crossmatch(rows: dict[str, list[TableRow]]) -> CrossMatch:
    return CrossMatch(
        grades=as_dict(rows["grades"]), campuses=as_dict(rows["campuses"]), diagnoses=as_dict(rows["diagnoses"])
    )


def load_table_rows(
    root: Path, district: District, copies: Path | None = None
) -> tuple[dict[str, list[TableRow]], list[Path]]:
    """``load_tables`` with each table's rows as written (descriptions, line numbers); remote tables
    from their copies in ``copies`` (``roster.io.crossmatch_copy``)."""
    tables: dict[str, list[TableRow]] = {}
    absent: list[Path] = []
    for table in TABLES:
        found = table_file(root, district.crossmatch, table, copies)
        if found.path.is_file():
            tables[table] = read_rows(found.path, found.source)
        else:
            tables[table] = []
            absent.append(found.path)
    return tables, absent


def date_like(date_format: str) -> Callable[[str], bool]:
    """Whether a value looks like a date: a date in ``date_format``, or a day, month and year with
    separators or the month's name (``rules.checks.DATE_SHAPED``, what ``rejects.csv`` masks)."""
    from roster.rules.checks import DATE_SHAPED

    shaped = re.compile(DATE_SHAPED)

    def looks(value: str) -> bool:
        if shaped.search(value):
            return True
        try:
            dt.datetime.strptime(value, date_format)
        except ValueError:
            return False
        return True

    return looks


def _value_counts(column) -> dict[str, int]:
    import pyarrow.compute as pc

    counts = pc.value_counts(column)
    found = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    return {value: int(count) for value, count in found}


def _table_codes(
    table: str, per_code: dict[str, int], mapping: dict[str, str], looks_dated
) -> tuple[list[CodeCount], int]:
    """One table's codes, sorted; unmapped date-like values summed into one ``MASKED`` code (its rows)."""
    masked = sum(n for code, n in per_code.items() if code not in mapping and looks_dated(code))
    codes = [
        CodeCount(table, code, per_code[code], mapping.get(code, ""))
        for code in sorted(per_code)
        if code in mapping or not looks_dated(code)
    ]
    if masked:
        codes.append(CodeCount(table, MASKED, masked, ""))
    return codes, masked


def discover(export_path: Path, district: District, crossmatch: CrossMatch) -> Discovery:
    """Count every distinct code of the export against the cross-match tables."""
    import pyarrow.compute as pc

    from roster.io.export import read_export

    export = read_export(export_path, district.source)
    looks_dated = date_like(district.source.date_format)
    result = Discovery(codes=[], rows_read=export.rows_read, ragged_rows=list(export.ragged_rows))
    for table, column in tables_for(district).items():
        per_code = _value_counts(export.table[column])
        if "" in per_code:
            result.empty[table] = per_code.pop("")
        codes, masked = _table_codes(table, per_code, crossmatch.for_field(column), looks_dated)
        result.codes.extend(codes)
        if masked:
            result.masked[table] = masked
    active = pc.is_in(export.table["status"], value_set=pa_strings(district.source.status_values.active))
    active_campuses = _value_counts(export.table["campus"].filter(active))
    mapping = crossmatch.campuses
    for code, count in active_campuses.items():
        shown = MASKED if code not in mapping and looks_dated(code) else code
        if shown:
            result.campus_active[shown] = result.campus_active.get(shown, 0) + count
    return result


def pa_strings(values: list[str]):
    import pyarrow as pa

    return pa.array(values, pa.large_string())


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
    unmapped = {
        table: [c for c in codes if c.district_code != MASKED] for table, codes in result.unmapped_by_table().items()
    }
    for table in TABLES:
        path = out_dir / missing_name(table)
        if unmapped.get(table):
            # Most frequent first: the codes that reject the most rows are the ones to map first.
            rows = sorted(unmapped[table], key=lambda c: (-c.rows, c.district_code))
            data = rows_bytes(MISSING_COLUMNS, [[c.district_code, "", ""] for c in rows])
            artifacts.write_bytes(path, data, recorded=True)  # removed once the table is complete
            written.append(path)
        else:
            artifacts.remove_written(path)  # only one this step wrote: never a file of the user's
    return written


@dataclass(frozen=True)
class SubaccountRequest:
    """A campus of the export the vendor has no sub-account for yet."""

    district_code: str
    rows: int
    active_rows: int
    rethink_code: str  # what campuses.csv maps it to ("" where unmapped)
    description: str  # from campuses.csv, when it has one
    reason: str  # "unmapped" or "not_at_vendor"


def subaccount_requests(
    result: Discovery, campuses: list[TableRow], vendor: VendorCodes | None
) -> list[SubaccountRequest]:
    """The export's campuses without a vendor campus, most active rows first."""
    descriptions = {r.district_code: r.description for r in campuses}
    requests = []
    for code in result.codes:
        if code.table != "campuses":
            continue
        if not code.rethink_code:
            reason = "unmapped"
        elif vendor is not None and code.rethink_code not in vendor.codes:
            reason = "not_at_vendor"
        else:
            continue
        active = result.campus_active.get(code.district_code, 0)
        description = descriptions.get(code.district_code, "")
        requests.append(
            SubaccountRequest(code.district_code, code.rows, active, code.rethink_code, description, reason)
        )
    return sorted(requests, key=lambda r: (-r.active_rows, -r.rows, r.district_code))


def write_subaccount_requests(requests: list[SubaccountRequest], out_dir: Path) -> Path:
    """``subaccount_requests.csv``, written every time (only its header when every campus is at the vendor)."""
    rows = [[r.district_code, r.rows, r.active_rows, r.rethink_code, r.description, r.reason] for r in requests]
    return artifacts.write_bytes(out_dir / SUBACCOUNTS, rows_bytes(SUBACCOUNT_COLUMNS, rows), recorded=True)


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
        if result.masked.get(table):
            text += f", {_rows(result.masked[table])} that look like dates (masked)"
        parts.append(text)
    line = f"{_rows(result.rows_read)} read; " + "; ".join(parts)
    if result.ragged_rows:
        shown = ", ".join(str(n) for n in result.ragged_rows[:10])
        more = "" if len(result.ragged_rows) <= 10 else f" and {len(result.ragged_rows) - 10} more"
        line += f"; rows not counted (wrong number of columns): {shown}{more}"
    return line


__all__ = [
    "MASKED",
    "REPORT",
    "SUBACCOUNTS",
    "CodeCount",
    "Discovery",
    "SubaccountRequest",
    "as_crossmatch",
    "date_like",
    "discover",
    "load_table_rows",
    "load_tables",
    "missing_name",
    "subaccount_requests",
    "summary",
    "tables_for",
    "write_discovery",
    "write_subaccount_requests",
]
