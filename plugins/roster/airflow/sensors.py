"""Waiting for a late SIS export without holding a worker slot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

from roster.airflow.context import roster_date
from roster.airflow.tasks import expected_export, export_present
from roster.config import District


class ExportSensor(BaseSensorOperator):
    """Wait (in reschedule mode) for tonight's export, up to ``source.wait_for``.

    On timeout the night fails, without retries, with a message that names the expected path, which
    is what the on-call engineer needs first.
    """

    ui_color = "#f0e4d7"

    def __init__(self, *, district: District, root: Path, poke_interval: float, **kwargs: Any) -> None:
        wait_for = district.source.wait_for
        super().__init__(
            mode="reschedule",
            timeout=wait_for.total_seconds(),
            poke_interval=min(poke_interval, max(wait_for.total_seconds(), 1.0)),
            exponential_backoff=False,
            **kwargs,
        )
        self.district = district
        self.root = root

    def _expected(self, context: Any) -> tuple[dt.date, str]:
        day = roster_date(self.district, context)
        return day, expected_export(self.district, self.root, day)

    def poke(self, context: Any) -> bool:
        day, where = self._expected(context)
        present = export_present(self.district, self.root, day)
        self.log.info("export for %s %s at %s", day, "found" if present else "not there yet", where)
        return present

    def execute(self, context: Any) -> Any:
        try:
            return super().execute(context)
        except AirflowSensorTimeout:
            day, where = self._expected(context)
            raise AirflowFailException(
                f"tonight's export did not arrive within {_words(self.district.source.wait_for)}: expected {where} "
                f"(roster date {day}). Ask the district to deliver it, then clear this task."
            ) from None


def _words(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
