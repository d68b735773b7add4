"""The nightly transform, in the steps the DAG runs as tasks and ``roster run`` runs in one process.

1. ``validate_night``: read the export, apply the rules, judge QA, write ``qa_report.json``,
   ``rejects.csv`` and ``accepted_rows.json`` (row numbers only) into the run folder.
2. ``serialize_night``: render the accepted rows into the vendor's file in the run folder.

Between tasks only the run folder is shared: the serializer re-reads the run's copy of the export and
keeps the accepted row numbers, so no intermediate file holds names or dates of birth.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from roster import artifacts
from roster.config import District, Layout, find_district, load_layout
from roster.crossmatch import CrossMatch, load_crossmatch
from roster.qa import QaReport, judge
from roster.reading import Export, read_export
from roster.serialize import render_roster
from roster.validation import REJECT_COLUMNS, NightRules, find_rejects


@dataclass(frozen=True)
class Night:
    """Everything a night's transform needs besides the export itself."""

    district: District
    crossmatch: CrossMatch
    layout: Layout
    roster_date: dt.date

    @classmethod
    def load(cls, root: Path, district: District | str, roster_date: dt.date) -> Night:
        """Load the district (by id or as loaded), its cross-match tables and its layout."""
        if isinstance(district, str):
            district = find_district(root, district)
        return cls(
            district=district,
            crossmatch=load_crossmatch(root, district),
            layout=load_layout(root, district.destination.layout),
            roster_date=roster_date,
        )

    @property
    def output_name(self) -> str:
        return self.district.output_filename(self.roster_date)

    @property
    def rules(self) -> NightRules:
        return NightRules.for_night(self.district, self.crossmatch, self.roster_date)


@dataclass
class Validated:
    report: QaReport
    rejects: pd.DataFrame
    accepted: pd.DataFrame


def _frame(export: Export) -> pd.DataFrame:
    return export.table.to_pandas()


def _ragged_rejects(export: Export) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_number": pd.Series(export.ragged_rows, dtype="int64"),
            "state_test_number": pd.Series([""] * len(export.ragged_rows), dtype="str"),
            "field": "(row)",
            "reason": "ragged_row",
        },
        columns=REJECT_COLUMNS,
    )


def validate(night: Night, export_path: Path) -> Validated:
    """Read and check the export; judge QA. Writes nothing."""
    export = read_export(export_path, night.district.source)
    frame = _frame(export)
    rejects = find_rejects(frame, night.rules)
    if export.ragged_rows:
        rejects = pd.concat([rejects, _ragged_rejects(export)], ignore_index=True).sort_values(
            ["row_number", "field", "reason"], kind="stable", ignore_index=True
        )
    rejected_rows = rejects["row_number"].nunique()
    accepted = frame[~frame["row_number"].isin(rejects["row_number"])].reset_index(drop=True)
    report = judge(
        district_id=night.district.district_id,
        roster_date=night.roster_date,
        rows_read=export.rows_read,
        rows_rejected=int(rejected_rows),
        rejects_by_reason={str(k): int(v) for k, v in rejects["reason"].value_counts().items()},
        max_reject_rate=night.district.qa.max_reject_rate,
        source_file=export_path.name,
        output_file=night.output_name,
    )
    return Validated(report=report, rejects=rejects, accepted=accepted)


def write_validation(result: Validated, out_dir: Path) -> None:
    """``qa_report.json``, ``rejects.csv`` and the accepted row numbers, into ``out_dir``."""
    artifacts.write_bytes(out_dir / artifacts.REJECTS, result.rejects.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    artifacts.write_json(out_dir / artifacts.ACCEPTED_ROWS, {"row_numbers": result.accepted["row_number"].tolist()})
    artifacts.write_json(out_dir / artifacts.QA_REPORT, result.report.to_json())


def validate_night(night: Night, export_path: Path, out_dir: Path) -> Validated:
    """Step 1 of the night: validate, then write the verdict and the accepted row numbers."""
    result = validate(night, export_path)
    write_validation(result, out_dir)
    return result


def write_roster(night: Night, accepted: pd.DataFrame, out_dir: Path) -> Path:
    """Render the accepted rows into ``out_dir/<destination.filename>``."""
    data = render_roster(accepted, night.district, night.crossmatch, night.layout)
    return artifacts.write_bytes(out_dir / night.output_name, data)


def serialize_night(night: Night, export_path: Path, out_dir: Path) -> Path:
    """Step 2 of the night, in its own process: re-read the export and keep the accepted rows."""
    row_numbers = artifacts.read_json(out_dir / artifacts.ACCEPTED_ROWS)["row_numbers"]
    frame = _frame(read_export(export_path, night.district.source))
    accepted = frame[frame["row_number"].isin(row_numbers)].reset_index(drop=True)
    if len(accepted) != len(row_numbers):
        raise RuntimeError(
            f"{export_path}: the export changed since it was validated ({len(accepted)} of {len(row_numbers)} accepted rows found)"
        )
    return write_roster(night, accepted, out_dir)
