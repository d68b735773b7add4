"""The go-live gate's evidence: the passed QA nights and the last reconcile (``roster go-live``, ``roster status``).

A district in ``mode: qa`` delivers each night to ``destination.qa_remote_dir``. Before the nightly
transfer goes to the live folder it must show, from what is under ``ROSTER_DATA_ROOT``:

* ``qa.required_nights`` passed QA nights (default 3): run folders whose ``qa_report.json`` says the
  night passed and was delivered in ``mode: qa`` (``roster.night.qa``: ``mode``, ``remote_path`` and
  ``rows_delivered`` are written by the delivery). They are counted by roster date, need not be in a
  row, and are whatever retention kept (``ROSTER_RETENTION_DAYS``, 30 by default): a failed night
  between two passed ones does not reset the count, its own QA email already asked for the fix.
  ``roster run`` and nights delivered live never count (their report has no ``mode: qa``).
* a clean reconcile: the last recorded ``roster reconcile`` (the CLI or the ``roster_go_live`` DAG's
  step) found nothing. Each reconcile replaces the record ``<district>/go-live/reconcile.json``, so a
  later one with findings cancels an earlier clean one. It may have run before or during the QA
  nights: it checks the vendor's existing roster against the SIS, which the QA deliveries (to the
  QA folder) do not touch.

The record holds when, the counts by issue and the SHA-256 of both inputs: no student data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from roster.config import District
from roster.config.district import GoLive
from roster.errors import ConfigError
from roster.io import artifacts, store
from roster.io.store import run_folder_date
from roster.night.qa import QaReport

if TYPE_CHECKING:
    from roster.golive.reconcile import Reconciliation

RECONCILE_RECORD = "reconcile.json"


@dataclass(frozen=True)
class ReconcileRecord:
    """One reconcile's outcome, as ``<district>/go-live/reconcile.json`` keeps it (counts and checksums only)."""

    recorded_at: dt.datetime
    exit_code: int
    counts: dict[str, int]
    sis_rows: int
    vendor_rows: int
    sis_sha256: str
    vendor_sha256: str

    @property
    def clean(self) -> bool:
        return self.exit_code == 0 and not self.counts

    @property
    def findings(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict:
        return {**asdict(self), "recorded_at": self.recorded_at.isoformat()}

    @classmethod
    def from_json(cls, payload: dict) -> ReconcileRecord:
        return cls(**{**payload, "recorded_at": dt.datetime.fromisoformat(payload["recorded_at"])})


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_reconcile(
    district_id: str, result: Reconciliation, sis: Path, vendor: Path, now: dt.datetime | None = None
) -> ReconcileRecord:
    """Keep ``result`` as the district's last reconcile (replacing the one before)."""
    record = ReconcileRecord(
        recorded_at=now or dt.datetime.now(dt.UTC),
        exit_code=1 if result.findings else 0,
        counts=result.counts(),
        sis_rows=result.sis_rows,
        vendor_rows=result.vendor_rows,
        sis_sha256=_sha256(sis),
        vendor_sha256=_sha256(vendor),
    )
    with store.go_live_records(district_id) as folder:
        artifacts.write_json(folder / RECONCILE_RECORD, record.to_json())
    return record


def last_reconcile(district_id: str) -> ReconcileRecord | None:
    """The district's last recorded reconcile, or None before the first (or when the record is unreadable)."""
    data = store.read_file(district_id, store.GO_LIVE_FOLDER, RECONCILE_RECORD)
    if data is None:
        return None
    try:
        return ReconcileRecord.from_json(json.loads(data))
    except (ValueError, TypeError, KeyError):
        return None


def counts_as_qa_night(report: QaReport) -> bool:
    """Passed, and delivered to the QA folder (not a held night left unsent, not superseded)."""
    return (
        report.outcome() == "passed"
        and report.mode == "qa"
        and bool(report.remote_path)
        and report.rows_delivered > 0
        and report.superseded_by is None
    )


def passed_qa_nights(district_id: str) -> list[dt.date]:
    """The roster dates of the district's passed QA nights still in the data root, oldest first."""
    from roster.io.artifacts import QA_REPORT

    nights = []
    for name in store.district_folders(district_id):
        day = run_folder_date(name)
        data = store.read_file(district_id, name, QA_REPORT) if day else None
        if day is None or data is None:
            continue
        try:
            report = QaReport.from_json(json.loads(data))
        except (ValueError, TypeError, KeyError):
            continue
        if counts_as_qa_night(report):
            nights.append(day)
    return sorted(nights)


@dataclass(frozen=True)
class Evidence:
    district_id: str
    required_nights: int
    qa_nights: list[dt.date] = field(default_factory=list)
    reconcile: ReconcileRecord | None = None

    def missing(self) -> list[str]:
        """What the gate still waits for, one sentence each (empty: ready to go live)."""
        out = []
        if len(self.qa_nights) < self.required_nights:
            dates = f" ({', '.join(d.isoformat() for d in self.qa_nights)})" if self.qa_nights else ""
            out.append(f"{len(self.qa_nights)} of {self.required_nights} required QA nights passed{dates}")
        if self.reconcile is None:
            out.append("no reconcile recorded (run roster reconcile, or the roster_go_live DAG's reconcile step)")
        elif not self.reconcile.clean:
            found = ", ".join(f"{issue} {n}" for issue, n in self.reconcile.counts.items())
            out.append(
                f"the last reconcile on {self.reconcile.recorded_at.date()} found {self.reconcile.findings} issues"
                + (f" ({found})" if found else "")
            )
        return out

    @property
    def ready(self) -> bool:
        return not self.missing()

    def present(self) -> list[str]:
        """The evidence there is, one sentence each."""
        out = []
        if self.qa_nights:
            shown = ", ".join(d.isoformat() for d in self.qa_nights[-max(self.required_nights, 1) :])
            out.append(f"{len(self.qa_nights)} QA nights passed (latest: {shown})")
        if self.reconcile is not None and self.reconcile.clean:
            out.append(f"the last reconcile, on {self.reconcile.recorded_at.date()}, found nothing")
        return out

    def summary(self) -> str:
        """One cell for ``roster status``: ``2/3 QA nights, reconcile clean``."""
        if self.reconcile is None:
            state = "not run"
        elif self.reconcile.clean:
            state = f"clean ({self.reconcile.recorded_at.date()})"
        else:
            state = f"{self.reconcile.findings} findings ({self.reconcile.recorded_at.date()})"
        cell = f"{len(self.qa_nights)}/{self.required_nights} QA nights, reconcile {state}"
        return cell + (": ready" if self.ready else "")


def evidence(district: District) -> Evidence:
    """What the data root holds for ``district``'s go-live."""
    return Evidence(
        district_id=district.district_id,
        required_nights=district.qa.required_nights,
        qa_nights=passed_qa_nights(district.district_id),
        reconcile=last_reconcile(district.district_id),
    )


@dataclass(frozen=True)
class Decision:
    """What ``go_live`` did: ``switched`` (the file now says live), or not, and why."""

    district_id: str
    switched: bool
    already_live: bool
    evidence: Evidence
    approval: GoLive | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.switched or self.already_live else 1


def go_live(root: Path, district_id: str, approved_by: str | None = None, today: dt.date | None = None) -> Decision:
    """Switch the district file to ``mode: live`` when the evidence is there, or when ``approved_by`` accepts
    going without it (recorded in the file's ``go_live:`` block). A live district is left as it is."""
    from roster.config import check_district_id, find_district
    from roster.golive.switch import switch_to_live

    district = find_district(root, district_id)
    found = evidence(district)
    if district.mode == "live":
        return Decision(district.district_id, switched=False, already_live=True, evidence=found)
    missing = found.missing()
    if missing and approved_by is None:
        return Decision(district.district_id, switched=False, already_live=False, evidence=found)
    approval = None
    if approved_by is not None:
        if not approved_by.strip():
            raise ConfigError("--approved-by: give the name of the person who accepts going live")
        approval = GoLive(approved_by=approved_by.strip(), approved_on=today or dt.date.today(), missing=missing)
    switch_to_live(root / "districts" / f"{check_district_id(district_id)}.yaml", approval)
    return Decision(district.district_id, switched=True, already_live=False, evidence=found, approval=approval)


__all__ = [
    "RECONCILE_RECORD",
    "Decision",
    "Evidence",
    "ReconcileRecord",
    "counts_as_qa_night",
    "evidence",
    "go_live",
    "last_reconcile",
    "passed_qa_nights",
    "record_reconcile",
]
