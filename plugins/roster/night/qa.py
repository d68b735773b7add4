"""A night's QA verdict and its report, ``qa_report.json``.

The report holds counts and reason codes only: no student names or dates of birth, so it can be read
by anyone, attached anywhere and logged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any


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
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        payload = asdict(self)
        payload.update(payload.pop("extra"))
        return payload

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> QaReport:
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        return cls(**{k: v for k, v in payload.items() if k in known}, extra={k: v for k, v in payload.items() if k not in known})


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
) -> QaReport:
    """Pass when the rejected share is at most ``max_reject_rate`` and at least one row remains."""
    accepted = rows_read - rows_rejected
    rate = rows_rejected / rows_read if rows_read else 0.0
    if accepted == 0:
        passed, verdict = False, "no student rows left to deliver" if rows_read else "the export holds no student rows"
    elif rate > max_reject_rate:
        passed, verdict = False, f"{rows_rejected} of {rows_read} rows rejected ({rate:.2%}), above the limit of {max_reject_rate:.2%}"
    else:
        passed, verdict = True, f"{rows_rejected} of {rows_read} rows rejected ({rate:.2%}), within the limit of {max_reject_rate:.2%}"
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
    )
