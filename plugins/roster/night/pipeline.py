"""The nightly transform: one function per step, run by the DAG's tasks and by ``roster run`` alike.

1. ``validate_night``: read the export, apply the rules, judge QA, write ``qa_report.json``,
   ``rejects.csv`` and ``accepted_rows.json`` (row numbers only) into the run folder.
2. ``serialize_night``: render the accepted rows into the vendor's file in the run folder, with the
   students carried from the last delivered roster, and judge the night's changes against it
   (``changes.csv``, and ``changes`` in ``qa_report.json``).
3. ``record_delivery`` (after the upload), or ``mark_superseded`` (a newer night was delivered):
   the delivered file read back becomes the next baseline; the report says what happened.

Between tasks only the run folder is shared: the serializer re-reads the run's copy of the export and
keeps the accepted row numbers, so no intermediate file holds names or dates of birth. ``roster run``
hands the validated rows over in memory instead (``serialize_night(validated=...)``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from roster.config import District, Layout, find_district, load_layout
from roster.config.crossmatch import CrossMatch, load_crossmatch
from roster.fast.arrow import csv_bytes, data_of, large, parallel, release_memory
from roster.io import artifacts, report_csv
from roster.io.export import Export, read_export
from roster.io.roster_file import RenderedRoster, parse_roster, render_lines, roster_ids
from roster.night.diff import CHANGES_COLUMNS, RosterDiff, compare, judge_changes, with_carried
from roster.night.qa import QaReport, judge, load_report, save_report
from roster.night.serialize import roster_frame
from roster.rules.catalog import NightRules
from roster.rules.duplicates import merged_away
from roster.rules.model import MASKED_ID, REJECT_COLUMNS, find_rejects
from roster.rules.offending import offending_values


@dataclass(frozen=True)
class Night:
    """Everything a night's transform needs besides the export itself."""

    district: District
    crossmatch: CrossMatch
    layout: Layout
    roster_date: dt.date

    @classmethod
    def load(
        cls, root: Path, district: District | str, roster_date: dt.date, crossmatch_copies: Path | None = None
    ) -> Night:
        """Load the district (by id or as loaded), its cross-match tables and its layout.

        Remote tables are read from their copies in ``crossmatch_copies`` (the night's run folder).
        """
        if isinstance(district, str):
            district = find_district(root, district)
        layout = load_layout(root, district.destination.layout)
        return cls(
            district=district,
            # checked against the vendor's code lists
            crossmatch=load_crossmatch(root, district, layout, crossmatch_copies),
            layout=layout,
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

    def hand_over(self) -> pd.DataFrame:
        """The accepted rows, taken out (``accepted`` is left with no rows): once the roster frame is
        made of them, the columns it does not show as read are freed, not kept here."""
        accepted, self.accepted = self.accepted, self.accepted.iloc[0:0]
        return accepted


def _frame(export: Export) -> pd.DataFrame:
    """The export as a pandas frame: its ``str`` columns are the Arrow columns (no copy)."""
    return export.table.to_pandas()


def _rows_where(export: Export, keep: np.ndarray) -> pd.DataFrame:
    """The rows of the export where ``keep``, as a frame: the columns filtered in parallel (Arrow).

    Takes the export's table over (``export.table`` is emptied): each column is dropped as soon as
    it is filtered, so the export and its filtered copy are never both whole in memory.
    """
    table, export.table = export.table, pa.table({})
    names = table.column_names
    columns = {name: table[name] for name in names}
    del table
    mask = pa.array(keep, pa.bool_())

    def filtered(name: str) -> pa.ChunkedArray:
        return columns.pop(name).filter(mask)

    return pa.table(parallel(filtered, names), names=names).to_pandas()


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


def _merged(night: Night, frame: pd.DataFrame, accepted: np.ndarray | None) -> np.ndarray:
    """Per row: an accepted row folded into another accepted row of its student (``merged_away``);
    none unless the district merges enrollment rows (``source.duplicate_rows: merge``)."""
    if night.district.source.duplicate_rows != "merge":
        return np.zeros(len(frame), dtype=bool)
    rules = night.rules
    return merged_away(frame, rules.active_values, rules.date_format, among=accepted)


def _merged_note(merged: int) -> str:
    rows = "1 row" if merged == 1 else f"{merged} rows"
    return f"{rows} merged into another row of the same student (source.duplicate_rows: merge)"


def check_export(night: Night, export_path: Path) -> Validated:
    """Read the export, apply the night's rules to every row, judge QA. Writes nothing."""
    export = read_export(export_path, night.district.source)
    frame = _frame(export)
    rejects = find_rejects(frame, night.rules)
    if export.ragged_rows:
        rejects = pd.concat([rejects, _ragged_rejects(export)], ignore_index=True).sort_values(
            ["row_number", "field", "reason"], kind="stable", ignore_index=True
        )
    rejected_rows = rejects["row_number"].nunique()
    rows_read, notes = export.rows_read, list(export.notes)
    offending = offending_values(frame, rejects, night.district.source.date_format)
    keep = ~np.isin(frame["row_number"].to_numpy(), rejects["row_number"].to_numpy()) if len(rejects) else None
    merged = _merged(night, frame, keep)
    if merged.any():
        keep = ~merged if keep is None else keep & ~merged
        notes.append(_merged_note(int(merged.sum())))
    if keep is None:
        accepted = frame
    else:
        del frame  # the export's columns are now held by the export alone, and freed as filtered
        accepted = _rows_where(export, keep)
        release_memory()
    del export
    report = judge(
        district_id=night.district.district_id,
        roster_date=night.roster_date,
        rows_read=rows_read,
        rows_rejected=int(rejected_rows),
        rows_merged=int(merged.sum()),
        rejects_by_reason={str(k): int(v) for k, v in rejects["reason"].value_counts().items()},
        max_reject_rate=night.district.qa.max_reject_rate,
        source_file=export_path.name,
        output_file=night.output_name,
        notes=notes,
        offending_values=offending,
        crossmatch={table: dataclasses.asdict(v) for table, v in night.crossmatch.versions.items()},
    )
    return Validated(report=report, rejects=rejects, accepted=accepted)


def _json_numbers(key: str, numbers: np.ndarray) -> bytes:
    """``{"<key>": [n, n, ...]}`` for millions of integers, rendered in Arrow (json's encoder is per item)."""
    if len(numbers) == 0:
        return json.dumps({key: []}).encode("utf-8") + b"\n"
    digits = pc.cast(pa.array(numbers, pa.int64()), pa.large_string())
    body = data_of(pc.binary_join_element_wise(digits, large(", "), large("")))
    return b"".join([b'{"', key.encode("ascii"), b'": [', body[:-2], b"]}\n"])


def validate_night(night: Night, export_path: Path, out_dir: Path) -> Validated:
    """Step 1: check the export and write ``qa_report.json`` (nothing delivered yet), ``rejects.csv``
    and the accepted row numbers into ``out_dir``.

    An earlier run's roster file there is removed first: a re-run that now fails QA must not leave it
    looking like tonight's output. An export that is one of the files written there is refused.
    """
    artifacts.refuse_overwriting({"the export": export_path}, out_dir, (*artifacts.RUN_FILES, night.output_name))
    artifacts.remove_written(out_dir / night.output_name)
    result = check_export(night, export_path)
    result.report = result.report.awaiting_delivery()
    artifacts.write_bytes(out_dir / artifacts.REJECTS, csv_bytes(result.rejects), recorded=True)
    artifacts.write_bytes(
        out_dir / artifacts.ACCEPTED_ROWS,
        _json_numbers("row_numbers", result.accepted["row_number"].to_numpy()),
        recorded=True,
    )
    save_report(out_dir, result.report)
    return result


@dataclass
class Roster:
    """Tonight's roster: the frame (carried students included), its diff, and the file.

    ``rendered`` is the file ready to write (``write_roster`` streams it to disk); ``data`` gives
    its bytes at once (a copy, made on demand).
    """

    frame: pd.DataFrame
    diff: RosterDiff
    rendered: RenderedRoster

    @property
    def data(self) -> bytes:
        return self.rendered.tobytes()


#: The last delivered roster frame, or a function reading it: read only when the diff needs it, and
#: let go as soon as the diff is done (a statewide roster is gigabytes; ``roster run --previous``).
Previous: TypeAlias = "pd.DataFrame | Callable[[], pd.DataFrame] | None"


def build_roster(night: Night, accepted: pd.DataFrame, rejected: pd.DataFrame, previous: Previous) -> Roster:
    """Accepted rows as the vendor's file, plus the students carried from ``previous``, judged.

    ``rejected`` is tonight's rejects (only its ``state_test_number`` column is used). A function as
    ``previous`` is called after tonight's roster frame is made, and its frame is not kept after the
    diff: it is never in memory beside the export being read, nor beside the file being written.
    """
    tonight = roster_frame(accepted, night.district, night.crossmatch, night.layout)
    del accepted  # its columns the roster frame shows as read are the frame's; the others go (when not the caller's)
    qa = night.district.qa
    rejected_ids = frozenset(rejected["state_test_number"]) - {"", MASKED_ID}  # a masked value names no id
    diff = compare(
        tonight,
        previous() if callable(previous) else previous,
        night.layout,
        night.roster_date,
        qa.carry_inactive_days,
        rejected_ids,
    )
    release_memory()
    judge_changes(diff, qa.max_deactivation_rate, qa.max_change_rate)
    frame = with_carried(tonight, diff)
    del tonight
    rendered = render_lines(frame, night.layout)
    release_memory()
    return Roster(frame=frame, diff=diff, rendered=rendered)


def _write_changes(roster: Roster, out_dir: Path) -> None:
    """``changes.csv`` (ids and field names only), the carried ids, and the serialized QA report."""
    changes = roster.diff.changes[CHANGES_COLUMNS]
    artifacts.write_bytes(out_dir / artifacts.CHANGES, csv_bytes(changes), recorded=True)
    carried = roster.frame[roster.frame["carried_since"] != ""]
    artifacts.write_json(
        out_dir / artifacts.CARRIED,
        dict(zip(carried["state_test_number"], carried["carried_since"], strict=True)),
        recorded=True,
    )
    report = load_report(out_dir).serialized(roster.diff.summary(), rows_in_file=len(roster.frame))
    save_report(out_dir, report)


def write_roster(night: Night, roster: Roster, out_dir: Path) -> Path:
    """The roster file, ``out_dir/<destination.filename>``: written piece by piece, atomically, 0600."""
    return artifacts.write_parts(out_dir / night.output_name, roster.rendered.parts(), recorded=True)


def _accepted_rows(night: Night, export_path: Path, out_dir: Path) -> pd.DataFrame:
    """The rows validation accepted, re-read from the export (so no intermediate file holds names)."""
    row_numbers = np.asarray(artifacts.read_json(out_dir / artifacts.ACCEPTED_ROWS)["row_numbers"], dtype=np.int64)
    export = read_export(export_path, night.district.source)
    keep = np.isin(export.table["row_number"].to_numpy(), row_numbers)
    accepted = _rows_where(export, keep)
    if len(accepted) != len(row_numbers):
        raise RuntimeError(
            f"{export_path}: the export changed since it was validated ({len(accepted)} of {len(row_numbers)} accepted rows found)"
        )
    return accepted


def serialize_night(
    night: Night,
    export_path: Path,
    out_dir: Path,
    previous: Previous,
    *,
    validated: Validated | None = None,
    write_held: bool = True,
) -> Roster:
    """Step 2: tonight's roster file and its changes, in ``out_dir``, after ``validate_night``.

    The accepted rows are re-read from ``export_path`` unless ``validated`` (the same process's step 1)
    holds them. ``previous`` as a function is read only for the diff (``build_roster``). A held roster's file is written only with ``write_held``: the DAG keeps it for the
    review, ``roster run`` only when the hold is approved.
    """
    # The accepted rows are handed to build_roster with no other reference kept, so it can free them.
    if validated is None:
        rejected = report_csv.read_frame(out_dir / artifacts.REJECTS)  # un-neutralized: the ids as found
        roster = build_roster(night, _accepted_rows(night, export_path, out_dir), rejected, previous)
    else:
        roster = build_roster(night, validated.hand_over(), validated.rejects, previous)
    if write_held or not roster.diff.held:
        write_roster(night, roster, out_dir)
    _write_changes(roster, out_dir)
    return roster


def mark_delivered(
    out_dir: Path,
    *,
    remote_path: str | None = None,
    mode: str | None = None,
    approved_by: str | None = None,
    approved_at: str | None = None,
) -> None:
    """Record in ``qa_report.json`` that the file went out (an upload, or ``roster run`` writing it)."""
    report = load_report(out_dir).delivered(
        remote_path=remote_path, mode=mode, approved_by=approved_by, approved_at=approved_at
    )
    save_report(out_dir, report)


def mark_rejected(out_dir: Path, *, rejected_by: str, rejected_at: str | None) -> None:
    """Record in ``qa_report.json`` that the held night was rejected on review, by whom and when."""
    save_report(out_dir, load_report(out_dir).rejected(rejected_by=rejected_by, rejected_at=rejected_at))


def mark_superseded(out_dir: Path, newer: dt.date) -> None:
    """Record in ``qa_report.json`` that a newer night was already delivered, so this one was not."""
    save_report(out_dir, load_report(out_dir).superseded(newer))


def never_delivered(night: Night, out_dir: Path, rejects: list[dict]) -> list[str]:
    """The State Test Numbers rejected tonight that are not in tonight's roster file, sorted.

    A rejected student the vendor already had is carried in the file as last delivered; one who is
    not there was never delivered, so the vendor does not know the student until the row is fixed.
    Masked and empty ids name no student and are left out.
    """
    rejected = {r["state_test_number"] for r in rejects} - {"", MASKED_ID}
    if not rejected:
        return []
    return sorted(rejected - roster_ids(out_dir / night.output_name, night.layout))


def record_delivery(
    night: Night,
    out_dir: Path,
    snapshot_dir: Path,
    *,
    remote_path: str,
    mode: str,
    approved_by: str | None = None,
    approved_at: str | None = None,
) -> pd.DataFrame:
    """Step 3, after the upload: the report says delivered, and the delivered file read back (with
    each carried student's ``carried_since``) becomes the snapshot, the next night's baseline."""
    from roster.night.snapshot import write_snapshot

    delivered = out_dir / night.output_name
    frame = parse_roster(delivered, night.layout)
    carried = artifacts.read_json(out_dir / artifacts.CARRIED)
    frame["carried_since"] = frame["state_test_number"].map(carried).fillna("").astype("str")
    mark_delivered(out_dir, remote_path=remote_path, mode=mode, approved_by=approved_by, approved_at=approved_at)
    write_snapshot(snapshot_dir, frame, night.roster_date, delivered)
    return frame
