"""Pre-go-live clean-up: the SIS export against the vendor's current roster (``roster reconcile``).

A district that already has students in Rethink Ed must make each of them match the SIS before the
nightly transfer starts: the same State Test Number, legal name and date of birth; active students
with the right id; students who left marked inactive; nobody missed. This module lists every place
where the two files disagree, one finding per row of ``reconcile_report.csv``:

* ``identity_mismatch``: an id in both files whose legal first name, middle name, last name or date of
  birth differ. The detail names the fields (never the values) and the rows. The middle name is
  compared only when both files carry it: the district maps ``source.columns.legal_middle_name`` and
  the vendor export has the ``vendor_export.columns.legal_middle_name`` column (default
  ``Middle Name``; ``null`` never compares it). Otherwise the summary notes the vendor rows compared
  without it. Where it is compared, an empty middle name against a filled one is a mismatch (the
  roster file sends it, and Rethink Ed keeps what it is sent). Names are compared after
  trimming surrounding spaces and Unicode NFC normalization only, so a padded name or an accent typed
  two ways is not a mismatch, but a difference of case or of accents is: the vendor's integration
  steps ask for the same legal name as in the SIS, and Rethink Ed keeps what it is sent. Dates of
  birth are compared as dates, each file read in its own ``date_format``; an empty or impossible
  date is a mismatch too.
* ``missing_state_id``: a vendor student without a State Test Number. The detail gives the vendor row
  and the SIS students with the same legal first and last name and date of birth, by State Test
  Number only. This matching is forgiving: trimmed, inner spaces collapsed, case- and
  accent-insensitive (NFKD, combining marks dropped, casefolded).
* ``inactivate_at_vendor``: active at the vendor, inactive in the SIS or not in the SIS at all.
* ``add_at_vendor``: active in the SIS, not at the vendor.
* ``duplicate``: an id on more than one row of either file; the detail names the file and the rows.
  Such an id is not compared otherwise until it is unique (which of its rows is the student?). With
  ``source.duplicate_rows: merge`` the SIS export's rows of one student (same legal names and date of
  birth) are first folded into the row a night would deliver, as the night does; only an id whose rows
  disagree is then a ``duplicate``.

Students are identified by State Test Number and row number (as a spreadsheet shows the file: the
header is row 1). No name or date of birth reaches the report, the summary or an error message.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from roster.config import District, StatusValues, VendorExport
from roster.errors import ConfigError
from roster.io import artifacts
from roster.io.report_csv import rows_bytes

REPORT = "reconcile_report.csv"
REPORT_COLUMNS = ["issue", "state_test_number", "detail"]
ISSUES = ("identity_mismatch", "missing_state_id", "inactivate_at_vendor", "add_at_vendor", "duplicate")
#: The identity fields compared, in the order the detail names them.
IDENTITY_FIELDS = ("legal_first_name", "legal_middle_name", "legal_last_name", "date_of_birth")
MIDDLE = "legal_middle_name"

SIS, VENDOR = "SIS", "vendor"


@dataclass(frozen=True)
class Finding:
    issue: str
    state_test_number: str
    detail: str
    row: int = 0  # for ordering only: the row the finding is about

    def sort_key(self) -> tuple:
        return (ISSUES.index(self.issue), self.state_test_number, self.row, self.detail)


@dataclass
class Reconciliation:
    findings: list[Finding]
    sis_rows: int = 0
    vendor_rows: int = 0
    #: rows that were not compared, by reason (counts only)
    notes: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(ISSUES, 0)
        for finding in self.findings:
            out[finding.issue] += 1
        return {k: v for k, v in out.items() if v}


# Names -------------------------------------------------------------------------------------------


def match_key(name: str) -> str:
    """A name for candidate matching: case, accents and spacing do not count."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(bare.split())


def _keys(series):
    """``match_key`` of every value, computed once per distinct name."""
    distinct = {value: match_key(value) for value in series.unique()}
    return series.map(distinct)


# Reading -----------------------------------------------------------------------------------------


def _arrow(values):
    """Text values (a pandas Series or Index, or any iterable of str) as an Arrow string array."""
    import pyarrow as pa

    if hasattr(values, "to_numpy"):
        return pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    return pa.array([str(v) for v in values], type=pa.string())


def _in(series, values):
    """``series.isin(values)`` for text, in Arrow: pandas' own is per value in Python, slow on millions."""
    import numpy as np
    import pyarrow.compute as pc

    wanted = pc.unique(_arrow(values))
    if len(wanted) == 0:
        return np.zeros(len(series), dtype=bool)
    return np.asarray(pc.is_in(_arrow(series), value_set=wanted).to_numpy(zero_copy_only=False), dtype=bool)


def _status(series, values: StatusValues):
    import numpy as np

    return np.select(
        [_in(series, values.active), _in(series, values.inactive)], ["active", "inactive"], default="unknown"
    )


def _frame(export, date_format: str, status_values: StatusValues, *, middle: bool):
    """id, names, parsed date of birth, status word and row number of every row."""
    from roster.rules.dates import parse_dates

    names = ["legal_first_name", *([MIDDLE] if middle else []), "legal_last_name"]
    columns = ["state_test_number", *names, "date_of_birth", "status", "row_number"]
    frame = export.table.select(columns).to_pandas()
    frame["born"] = parse_dates(frame["date_of_birth"], date_format)
    frame["state"] = _status(frame["status"], status_values)
    return frame


def _check_vendor_columns(district: District) -> None:
    headers = district.vendor_export.columns.mapped()
    seen: dict[str, str] = {}
    for canonical, header in headers.items():
        if header in seen:
            raise ConfigError(
                f"district {district.district_id}: key 'vendor_export.columns.{canonical}': header {header!r} "
                f"is already mapped to {seen[header]}"
            )
        seen[header] = canonical


def _fold_enrollments(export, source) -> int:
    """With ``source.duplicate_rows: merge``, the SIS rows of one student folded into the one a night
    would deliver (``roster.rules.duplicates.fold``, the night's own steps; ``export.table`` keeps
    the rest); the number of rows folded. Rows of an id whose identity disagrees stay: ``duplicate``."""
    if source.duplicate_rows != "merge":
        return 0
    import pyarrow as pa

    from roster.rules.duplicates import fold

    folded = fold(export.table.to_pandas(), source.status_values.active, source.date_format)
    export.table = export.table.filter(pa.array(~folded))
    return int(folded.sum())


def _vendor_spec(vendor_path: Path, district: District) -> tuple[VendorExport, str | None]:
    """How to read the vendor export, and why middle names are not compared (None: they are).

    A vendor export without the middle name column is read without it, rather than refused: the
    column is optional in the vendor's export, and the other fields are still worth comparing.
    """
    from roster.io.export import CsvFormat, read_header

    spec = district.vendor_export
    header = spec.columns.legal_middle_name
    if header is None:
        return spec, "vendor_export.columns.legal_middle_name is null"
    reason = None
    if district.source.columns.legal_middle_name is None:
        reason = "the SIS export has no legal_middle_name column in source.columns"
    elif header not in read_header(vendor_path, CsvFormat.of_vendor(spec)):
        reason = f"the vendor export has no {header!r} column"
    if reason is None:
        return spec, None
    columns = spec.columns.model_copy(update={MIDDLE: None})
    return spec.model_copy(update={"columns": columns}), reason


def read_pair(sis_path: Path, vendor_path: Path, district: District):
    """Both files as frames: (sis, vendor, notes)."""
    from roster.io.export import read_export, read_vendor_export

    _check_vendor_columns(district)
    sis_export = read_export(sis_path, district.source)
    merged = _fold_enrollments(sis_export, district.source)
    spec, without_middle = _vendor_spec(vendor_path, district)
    vendor_export = read_vendor_export(vendor_path, spec)
    middle = without_middle is None
    sis = _frame(sis_export, district.source.date_format, district.source.status_values, middle=middle)
    vendor = _frame(vendor_export, spec.date_format, spec.status_values, middle=middle)
    notes = {
        "SIS rows merged into another row of the same student (source.duplicate_rows: merge)": merged,
        f"vendor rows compared without a middle name ({without_middle})": len(vendor) if without_middle else 0,
        "SIS rows with the wrong number of columns (not compared)": len(sis_export.ragged_rows),
        "vendor rows with the wrong number of columns (not compared)": len(vendor_export.ragged_rows),
        "SIS rows without a State Test Number (not compared; a night rejects them)": int(
            (sis["state_test_number"] == "").sum()
        ),
        "SIS rows with a status that is neither active nor inactive": int((sis["state"] == "unknown").sum()),
        "vendor rows with a status that is neither active nor inactive": int((vendor["state"] == "unknown").sum()),
    }
    return sis, vendor, {k: v for k, v in notes.items() if v}


# Findings ----------------------------------------------------------------------------------------


def _rows(numbers) -> str:
    return ", ".join(str(int(n)) for n in sorted(numbers))


def _duplicates(frame, label: str) -> tuple[list[Finding], set[str]]:
    with_id = frame[frame["state_test_number"] != ""]
    counted = with_id["state_test_number"].value_counts()
    repeated = counted[counted > 1]
    rows_of = with_id[_in(with_id["state_test_number"], repeated.index)].groupby("state_test_number")["row_number"]
    findings = [
        Finding("duplicate", str(stn), f"{len(rows)} times in the {label} export (rows {_rows(rows)})", int(rows.min()))
        for stn, rows in rows_of
    ]
    return findings, set(repeated.index)


def _identity(both) -> list[Finding]:
    """``identity_mismatch`` for every id in both files whose names or date of birth differ (vectorized)."""
    sis_ok, vendor_ok = both["born_sis"].notna(), both["born_vendor"].notna()
    names = [f for f in IDENTITY_FIELDS if f != "date_of_birth" and f"{f}_sis" in both.columns]
    checks = [
        *((name, both[f"{name}_sis"] != both[f"{name}_vendor"]) for name in names),
        ("date_of_birth", sis_ok & vendor_ok & (both["born_sis"] != both["born_vendor"])),
        (f"date_of_birth (not a date in the {SIS} export)", ~sis_ok & vendor_ok),
        (f"date_of_birth (not a date in the {VENDOR} export)", sis_ok & ~vendor_ok),
        ("date_of_birth (not a date in either export)", ~sis_ok & ~vendor_ok),
    ]
    any_differs = checks[0][1].copy()
    for _, mask in checks[1:]:
        any_differs |= mask
    findings = []
    differing = both[any_differs]
    masks = [(name, mask[any_differs].to_numpy()) for name, mask in checks]
    for i, (stn, sis_row, vendor_row) in enumerate(
        zip(differing["state_test_number"], differing["row_number_sis"], differing["row_number_vendor"], strict=True)
    ):
        fields = [name for name, mask in masks if mask[i]]
        findings.append(
            Finding(
                "identity_mismatch",
                stn,
                f"differs: {', '.join(fields)}; SIS row {int(sis_row)}, vendor row {int(vendor_row)}",
                int(sis_row),
            )
        )
    return findings


def _missing_ids(sis, vendor) -> tuple[list[Finding], dict[str, list[int]]]:
    """The vendor rows without an id, each with its SIS candidates; and SIS id -> those vendor rows."""
    lacking = vendor[vendor["state_test_number"] == ""].copy()
    if lacking.empty:
        return [], {}
    pool = sis[(sis["state_test_number"] != "") & sis["born"].notna()].copy()
    for frame in (lacking, pool):
        frame["first_key"] = _keys(frame["legal_first_name"])
        frame["last_key"] = _keys(frame["legal_last_name"])
    matched = lacking[lacking["born"].notna()].merge(
        pool[["first_key", "last_key", "born", "state_test_number"]],
        on=["first_key", "last_key", "born"],
        suffixes=("", "_sis"),
    )
    already = set(matched["state_test_number_sis"][_in(matched["state_test_number_sis"], vendor["state_test_number"])])
    candidates: dict[int, set[str]] = {}
    rows_of: dict[str, list[int]] = {}
    for row_number, stn in zip(matched["row_number"], matched["state_test_number_sis"], strict=True):
        candidates.setdefault(int(row_number), set()).add(stn)
        rows_of.setdefault(stn, [])
        if int(row_number) not in rows_of[stn]:
            rows_of[stn].append(int(row_number))
    findings = []
    for row_number in lacking["row_number"]:
        found = [
            f"{stn} (already at the vendor)" if stn in already else stn
            for stn in sorted(candidates.get(int(row_number), ()))
        ]
        detail = f"vendor row {int(row_number)}; SIS candidates: {', '.join(found) if found else 'none'}"
        findings.append(Finding("missing_state_id", "", detail, int(row_number)))
    return findings, {stn: sorted(rows) for stn, rows in rows_of.items()}


def compare(sis, vendor) -> list[Finding]:
    """Every finding between the two frames (see the module docstring)."""
    sis_dups, sis_repeated = _duplicates(sis, SIS)
    vendor_dups, vendor_repeated = _duplicates(vendor, VENDOR)
    missing, candidate_rows = _missing_ids(sis, vendor)
    findings = [*sis_dups, *vendor_dups, *missing]

    repeated = sis_repeated | vendor_repeated
    sis_ids, vendor_ids = sis["state_test_number"], vendor["state_test_number"]
    s = sis[(sis["state_test_number"] != "") & ~_in(sis["state_test_number"], repeated)]
    v = vendor[(vendor["state_test_number"] != "") & ~_in(vendor["state_test_number"], repeated)]

    both = s.merge(v, on="state_test_number", suffixes=("_sis", "_vendor"))
    findings += _identity(both)

    for row in both[(both["state_vendor"] == "active") & (both["state_sis"] == "inactive")].itertuples(index=False):
        findings.append(
            Finding(
                "inactivate_at_vendor",
                row.state_test_number,
                f"inactive in the SIS (SIS row {row.row_number_sis}); vendor row {row.row_number_vendor}",
                int(row.row_number_vendor),
            )
        )
    absent_from_sis = v[(v["state"] == "active") & ~_in(v["state_test_number"], sis_ids)]
    for stn, row_number in zip(absent_from_sis["state_test_number"], absent_from_sis["row_number"], strict=True):
        findings.append(
            Finding(
                "inactivate_at_vendor", stn, f"not in the SIS export; vendor row {int(row_number)}", int(row_number)
            )
        )
    to_add = s[(s["state"] == "active") & ~_in(s["state_test_number"], vendor_ids)]
    for stn, row_number in zip(to_add["state_test_number"], to_add["row_number"], strict=True):
        detail = f"not at the vendor; SIS row {int(row_number)}"
        if stn in candidate_rows:
            # Adding would duplicate the student: the vendor may hold them without an id.
            rows = candidate_rows[stn]
            detail += f" (may be vendor row{'s' if len(rows) > 1 else ''} {_rows(rows)} without a State Test Number)"
        findings.append(Finding("add_at_vendor", stn, detail, int(row_number)))
    return sorted(findings, key=Finding.sort_key)


def reconcile(sis_path: Path, vendor_path: Path, district: District) -> Reconciliation:
    """Read both exports and list every finding."""
    sis, vendor, notes = read_pair(sis_path, vendor_path, district)
    return Reconciliation(findings=compare(sis, vendor), sis_rows=len(sis), vendor_rows=len(vendor), notes=notes)


def write_report(result: Reconciliation, out_dir: Path) -> Path:
    """``reconcile_report.csv``: ``issue,state_test_number,detail``, one row per finding."""
    rows = [[f.issue, f.state_test_number, f.detail] for f in result.findings]
    return artifacts.write_bytes(out_dir / REPORT, rows_bytes(REPORT_COLUMNS, rows))


def summary(result: Reconciliation) -> str:
    """One line for the terminal or a task log: counts only."""
    counts = result.counts()
    found = ", ".join(f"{issue}: {n}" for issue, n in counts.items()) if counts else "nothing to clean up"
    line = f"{result.sis_rows} SIS rows, {result.vendor_rows} vendor rows; {len(result.findings)} findings ({found})"
    if result.notes:
        line += "; " + "; ".join(f"{what}: {n}" for what, n in result.notes.items())
    return line


__all__ = [
    "ISSUES",
    "REPORT",
    "Finding",
    "Reconciliation",
    "compare",
    "match_key",
    "reconcile",
    "summary",
    "write_report",
]
