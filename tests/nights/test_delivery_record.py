"""``upload_roster`` delivers and then records: a roster at the vendor but not recorded as the next
night's baseline retries (the same file again, then the record) and, when the storage stays down,
fails pointing on-call at the runbook's "Snapshot not recorded", never at the SFTP section.

The fault is injected into the recording step (the domain's ``record_delivery``) of a real night:
real SFTP and SMTP servers, Airflow's database, ``dag.test()``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from conftest import INCLUDE

pytestmark = pytest.mark.e2e

NIGHT = dt.date(2026, 11, 20)
LOGICAL = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)  # 02:00 America/Chicago
REMOTE = "upload/sample_isd/sample_isd_roster_20261120.txt"
NOT_RECORDED = "was delivered but not recorded as the next night's baseline"


def _night():
    from roster.airflow.nightly import build_all

    return build_all(root=INCLUDE)["roster_sample_isd"].test(logical_date=LOGICAL)


def _tis(run) -> dict:
    return {ti.task_id: ti for ti in run.get_task_instances()}


def _server_files(night_env: dict) -> list[str]:
    root: Path = night_env["sftp_root"]
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _delivery_events(run) -> int:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AssetEvent)
                .where(AssetEvent.source_run_id == run.run_id, AssetEvent.source_dag_id == run.dag_id)
            )
        )


def _storage_fails(monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """The recording step raises ``OSError`` (a full disk) on its first ``times`` calls."""
    from roster.night import pipeline

    real = pipeline.record_delivery
    calls: list[int] = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) <= times:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "record_delivery", failing)
    return calls


def test_a_delivery_not_recorded_is_retried_and_recorded_once(night_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _storage_fails(monkeypatch, times=1)

    run = _night()

    upload = _tis(run)["upload_roster"]
    assert str(run.state) == "success"
    assert str(upload.state) == "success" and upload.try_number == 2 and len(calls) == 2
    run_dir = night_env["data_root"] / "sample_isd" / NIGHT.isoformat()
    assert _server_files(night_env) == [REMOTE]  # the same file, uploaded again under its one name
    assert (night_env["sftp_root"] / REMOTE).read_bytes() == (run_dir / Path(REMOTE).name).read_bytes()
    pointer = night_env["data_root"] / "sample_isd" / "snapshot" / "snapshot.json"
    assert json.loads(pointer.read_text())["date"] == NIGHT.isoformat()
    assert json.loads((run_dir / "qa_report.json").read_text())["rows_delivered"] == 286
    assert _delivery_events(run) == 1  # the failed try emitted none
    assert str(_tis(run)["notify_summary"].state) == "success"


def test_a_delivery_that_cannot_be_recorded_sends_on_call_to_the_snapshot_section(
    night_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    _storage_fails(monkeypatch, times=99)

    run = _night()

    tis = _tis(run)
    assert str(run.state) == "failed"
    assert str(tis["upload_roster"].state) == "failed" and tis["upload_roster"].try_number == 2
    assert str(tis["notify_summary"].state) == "upstream_failed"
    assert _server_files(night_env) == [REMOTE]  # at the vendor ...
    assert not (night_env["data_root"] / "sample_isd" / "snapshot" / "snapshot.json").exists()  # ... not recorded
    assert _delivery_events(run) == 0
    oncall = [m for m in night_env["smtp"].messages() if m["To"] == "data-oncall@example.org"]
    assert len(oncall) == 1
    text = oncall[0].get_body(("plain",)).get_content()
    assert f"/{REMOTE} {NOT_RECORDED} (OSError: [Errno 28] No space left on device)" in text
    assert 'open the section "Snapshot not recorded"' in text
