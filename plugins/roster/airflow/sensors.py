"""Waiting for a late SIS export without holding a worker slot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

from roster.airflow.context import roster_date
from roster.airflow.tasks import expected_export, export_present
from roster.airflow.triggers import ERROR, FATAL, FOUND, ExportTrigger
from roster.config import District
from roster.errors import TransferError


class ExportSensor(BaseSensorOperator):
    """Wait for tonight's export, up to ``source.wait_for``, as ``source.wait_mode`` says.

    ``deferrable`` (the default): one look on a worker, then the look-again loop runs in the
    triggerer (``roster.airflow.triggers.ExportTrigger``) and the task holds no slot at all while it
    waits. ``reschedule``: the task is rescheduled every poke interval, holding a slot only while it
    looks. Either way, on timeout the night fails, without retries, with a message that names the
    expected path, which is what the on-call engineer needs first.
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
        if self.district.source.wait_mode == "reschedule":
            try:
                return super().execute(context)
            except AirflowSensorTimeout:
                raise self._late(context) from None
        if self.poke(context):
            return None
        _, where = self._expected(context)
        deadline = dt.datetime.now(dt.UTC) + self.district.source.wait_for
        trigger = ExportTrigger(
            source=where,
            package=self.district.source.format == "oneroster",
            deadline=deadline.isoformat(),
            poke_interval=self.poke_interval,
        )
        # Airflow's own trigger timeout is only a backstop (a triggerer down past the deadline): the
        # trigger times out itself, so the failure names the path like the reschedule mode's.
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=self.district.source.wait_for + dt.timedelta(seconds=self.poke_interval + 60),
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> None:
        """Back from the triggerer: the export is there, or the night fails as it would in reschedule mode."""
        day, where = self._expected(context)
        if event["status"] == FOUND:
            self.log.info("export for %s found at %s", day, where)
            return
        if event["status"] == ERROR:
            from roster.airflow.hooks.sftp import NetworkError

            raise (TransferError if event["kind"] == FATAL else NetworkError)(event["message"])
        raise self._late(context)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any) -> Any:
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except AirflowSensorTimeout:  # what the base sensor makes of Airflow's own trigger timeout
            raise self._late(context) from None

    def _late(self, context: Any) -> AirflowFailException:
        day, where = self._expected(context)
        return AirflowFailException(
            f"tonight's export did not arrive within {_words(self.district.source.wait_for)}: expected {where} "
            f"(roster date {day}). Ask the district to deliver it, then clear this task."
        )


def _words(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
