"""A night's QA verdict and its report, ``qa_report.json``: the one owner of that file.

The report holds counts and reason codes only: no student names or dates of birth, so it can be read
by anyone, attached anywhere and logged.

A report goes through these states, each a method returning the next report:

* judged (``judge``): the verdict of validation; ``rows_delivered`` is what would go out;
* ``awaiting_delivery``: written by a night that sends later (the DAG), nothing delivered yet;
* ``serialized``: the roster file is written; ``changes``, ``held`` and ``rows_in_file`` are known;
* ``delivered`` (the upload, or ``roster run`` writing the file), ``superseded`` (a newer night
  was already delivered, so this one was archived) or ``rejected`` (a held night refused on review).

``load_report`` and ``save_report`` are the only readers and writers of the file. Keys whose value is
not known yet are absent from the JSON (``output_file`` is the exception: ``null`` until QA passes).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from roster.io import artifacts


@dataclass(frozen=True)
class ChangeSummary:
    """The ``changes`` section: the night's changes against the last delivered roster, counts only."""

    added: int
    deactivated: int
    reactivated: int
    identity_changed: int
    other_changed: int
    carried: int
    dropped: int
    retained: int
    previous_students: int
    previous_active: int
    deactivation_rate: float
    change_rate: float
    first_night: bool
    held: bool
    hold_reasons: list[str] = field(default_factory=list)
    #: Students added tonight who are a student gone tonight under a new State Test Number (see
    #: ``roster.night.diff``); a default, so that reports written before it existed still load.
    state_id_changed: int = 0


#: Keys written only once their state is reached (absent before).
_OPTIONAL = (
    "changes",
    "held",
    "rows_in_file",
    "superseded_by",
    "remote_path",
    "mode",
    "approved_by",
    "approved_at",
    "rejected_by",
    "rejected_at",
)


@dataclass(frozen=True)
class QaReport:
    district_id: str
    date: str
    passed: bool
    rows_read: int
    rows_accepted: int
    rows_delivered: int
    rows_rejected: int
    rejects_by_reason: dict[str, int]
    max_reject_rate: float
    reject_rate: float
    verdict: str
    source_file: str
    output_file: str | None = None
    changes: ChangeSummary | None = None
    held: bool | None = None
    rows_in_file: int | None = None
    superseded_by: str | None = None
    remote_path: str | None = None
    mode: str | None = None
    approved_by: str | None = None
    #: When the hold was approved (ISO 8601, UTC), with ``approved_by``, for a night held and approved in Airflow.
    approved_at: str | None = None
    #: Who rejected the held night in Airflow (``qa.hold_timeout`` when nobody answered in time); the
    #: night was not delivered. Absent unless rejected, as ``approved_by`` is absent unless approved.
    rejected_by: str | None = None
    #: When the hold was rejected (ISO 8601, UTC), with ``rejected_by``.
    rejected_at: str | None = None
    #: Plain sentences about how the export was read (end-of-file padding ignored...), no student data.
    notes: list[str] = field(default_factory=list)
    #: The codes behind the code rejects: reason -> {code: rows} (``roster.rules.offending``; a value
    #: that does not look like a code is counted as ``[masked]``).
    offending_values: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Rows folded into another row of the same student (``source.duplicate_rows: merge``): neither
    #: accepted nor rejected, so ``rows_read == rows_accepted + rows_rejected + rows_merged``. A default,
    #: so that reports written before it existed still load.
    rows_merged: int = 0
    #: The version of each cross-match table the night used: table -> {"sha256": ..., "source": its
    #: URL or path}; empty in reports written before it existed.
    crossmatch: dict[str, dict[str, str]] = field(default_factory=dict)

    def awaiting_delivery(self) -> QaReport:
        """Nothing delivered yet: a night whose upload or email then fails must not read as delivered."""
        return replace(self, rows_delivered=0)

    def serialized(self, changes: ChangeSummary, rows_in_file: int) -> QaReport:
        """The roster file is written (``rows_in_file`` rows) with these changes; not delivered yet."""
        return replace(self, changes=changes, held=changes.held, rows_in_file=rows_in_file, rows_delivered=0)

    def delivered(
        self,
        *,
        remote_path: str | None = None,
        mode: str | None = None,
        approved_by: str | None = None,
        approved_at: str | None = None,
    ) -> QaReport:
        """The file went out (an upload, an approved hold, ``roster run`` writing it); details given are recorded."""
        return replace(
            self,
            rows_delivered=self.rows_in_file if self.rows_in_file is not None else self.rows_delivered,
            superseded_by=None,
            remote_path=remote_path if remote_path is not None else self.remote_path,
            mode=mode if mode is not None else self.mode,
            approved_by=approved_by if approved_by is not None else self.approved_by,
            approved_at=approved_at if approved_at is not None else self.approved_at,
        )

    def rejected(self, *, rejected_by: str, rejected_at: str | None) -> QaReport:
        """The held night was rejected on review: nothing goes out, and who decided it and when is kept."""
        return replace(self, rows_delivered=0, rejected_by=rejected_by, rejected_at=rejected_at)

    def superseded(self, newer: dt.date) -> QaReport:
        """A newer night was already delivered, so this one was archived and not sent."""
        return replace(self, superseded_by=newer.isoformat(), rows_delivered=0)

    def outcome(self) -> str:
        """``passed``, ``failed`` or ``held`` (a held roster not delivered, or waiting for review)."""
        if not self.passed:
            return "failed"
        if self.held and not self.rows_delivered:
            return "held"
        return "passed"

    def to_json(self) -> dict[str, Any]:
        payload = dataclasses.asdict(self)
        for key in _OPTIONAL:
            if payload[key] is None:
                del payload[key]
        return payload

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> QaReport:
        """The report a ``to_json`` payload holds; an unknown key is a ``ValueError``."""
        unknown = payload.keys() - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"qa_report.json: unknown key(s) {', '.join(sorted(unknown))}")
        changes = payload.get("changes")
        return cls(**{**payload, "changes": ChangeSummary(**changes) if changes is not None else None})


def load_report(folder: Path) -> QaReport:
    """The run folder's ``qa_report.json``."""
    return QaReport.from_json(json.loads((folder / artifacts.QA_REPORT).read_text(encoding="utf-8")))


def save_report(folder: Path, report: QaReport) -> Path:
    """Write ``report`` as the run folder's ``qa_report.json`` (keys sorted, atomically, owner-only)."""
    return artifacts.write_json(folder / artifacts.QA_REPORT, report.to_json(), recorded=True)


def judge(
    *,
    district_id: str,
    roster_date: dt.date,
    rows_read: int,
    rows_rejected: int,
    rejects_by_reason: dict[str, int],
    max_reject_rate: float,
    source_file: str,
    output_file: str,
    notes: list[str] | None = None,
    offending_values: dict[str, dict[str, int]] | None = None,
    rows_merged: int = 0,
    crossmatch: dict[str, dict[str, str]] | None = None,
) -> QaReport:
    """Pass when the rejected share is at most ``max_reject_rate`` and at least one row remains.

    Merged rows (``rows_merged``) are no rejects: the student is delivered by another row. The rate is
    of the rows read, so a student rejected on each of their rows weighs as much as in the students.
    """
    accepted = rows_read - rows_rejected - rows_merged
    rate = rows_rejected / rows_read if rows_read else 0.0
    if accepted == 0:
        passed, verdict = False, "no student rows left to deliver" if rows_read else "the export holds no student rows"
    elif rate > max_reject_rate:
        passed, verdict = (
            False,
            f"{rows_rejected} of {rows_read} rows rejected ({rate:.2%}), above the limit of {max_reject_rate:.2%}",
        )
    else:
        passed, verdict = (
            True,
            f"{rows_rejected} of {rows_read} rows rejected ({rate:.2%}), within the limit of {max_reject_rate:.2%}",
        )
    return QaReport(
        district_id=district_id,
        date=roster_date.isoformat(),
        passed=passed,
        rows_read=rows_read,
        rows_accepted=accepted,
        rows_delivered=accepted if passed else 0,
        rows_rejected=rows_rejected,
        rejects_by_reason=dict(sorted(rejects_by_reason.items())),
        max_reject_rate=max_reject_rate,
        reject_rate=round(rate, 6),
        verdict=verdict,
        source_file=source_file,
        output_file=output_file if passed else None,
        notes=list(notes or []),
        offending_values=dict(offending_values or {}),
        rows_merged=rows_merged,
        crossmatch=dict(crossmatch or {}),
    )
