"""Roster safety, whole nights through ``dag.test()`` on real SFTP and SMTP servers.

First night never held; a night that would deactivate too many students is held (nothing sent, one
email, rejected at ``hold_timeout``); so is a night where students appear under a new State Test
Number; ``approve_hold`` delivers it with the carried students; a hold approved on the Required
Actions page delivers and records who, one rejected there sends nothing and records who; a blackout
night is quiet.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import INCLUDE, asset_events, configure_district
from domain_fixtures import carried_students

pytestmark = pytest.mark.e2e

FIRST = dt.date(2026, 11, 20)
SECOND = dt.date(2026, 11, 21)
EXPORT = INCLUDE / "inbound" / "sample_isd" / "roster_20261120.csv"
REMOTE_DIR = Path("upload/sample_isd")


def logical(day: dt.date) -> dt.datetime:
    """02:00 America/Chicago (UTC-6 in November) on ``day``."""
    return dt.datetime(day.year, day.month, day.day, 8, 0, tzinfo=dt.UTC)


def _dag(root: Path):
    from roster.airflow.nightly import build_all

    return build_all(root=root)["roster_sample_isd"]


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _configure(include: Path, **changes: object) -> None:
    configure_district(include, "sample_isd", **changes)


def _truncated_second_export(include: Path) -> None:
    """Night 2's export is night 1's cut in half: a classic broken SIS report."""
    lines = EXPORT.read_bytes().split(b"\r\n")
    (include / "inbound" / "sample_isd" / "roster_20261121.csv").write_bytes(b"\r\n".join(lines[:151]) + b"\r\n")


@contextmanager
def scheduler_timeout_sweep() -> Iterator[None]:
    """Run the scheduler's own AWAITING_INPUT timeout sweep in the background, as a scheduler would.

    ``dag.test()`` runs no scheduler, so nothing else resolves a Human-in-the-loop task whose
    response deadline has passed.
    """
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    runner = SchedulerJobRunner.__new__(SchedulerJobRunner)
    stop = threading.Event()

    def sweep() -> None:
        while not stop.is_set():
            runner.check_awaiting_input_timeouts()
            stop.wait(0.5)

    thread = threading.Thread(target=sweep, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def _snapshot_date(data_root: Path) -> str | None:
    pointer = data_root / "sample_isd" / "snapshot" / "snapshot.json"
    return json.loads(pointer.read_text())["date"] if pointer.exists() else None


def _first_night(include: Path, night_env: dict) -> None:
    run = _dag(include).test(logical_date=logical(FIRST))
    assert str(run.state) == "success", _states(run)
    assert _snapshot_date(night_env["data_root"]) == "2026-11-20"
    # Night 1 (14 rejected rows) emailed its summary; set aside, so a test sees only night 2's mail.
    [summary] = night_env["smtp"].messages()
    assert "2026-11-20: delivered 286 students" in summary["Subject"]
    for message in Path(night_env["smtp"].maildir).glob("*.eml"):
        message.unlink()


def test_first_night_is_never_held_and_records_the_snapshot(night_env: dict, include_copy: Path) -> None:
    # Thresholds of zero would hold any later night; the first one has nothing to compare with.
    _configure(include_copy, qa__max_deactivation_rate=0.0, qa__max_change_rate=0.0)
    _first_night(include_copy, night_env)
    report = json.loads((night_env["data_root"] / "sample_isd" / "2026-11-20" / "qa_report.json").read_text())
    assert report["changes"]["first_night"] is True and report["held"] is False
    assert report["changes"]["added"] == 286
    assert (night_env["sftp_root"] / REMOTE_DIR / "sample_isd_roster_20261120.txt").exists()


def test_held_night_sends_nothing_emails_and_fails_at_hold_timeout(night_env: dict, include_copy: Path) -> None:
    _configure(include_copy, qa__hold_timeout="2s")
    _truncated_second_export(include_copy)
    _first_night(include_copy, night_env)

    started = time.monotonic()
    with scheduler_timeout_sweep():
        run = _dag(include_copy).test(logical_date=logical(SECOND))
    waited = time.monotonic() - started

    states = _states(run)
    assert str(run.state) == "failed", states
    assert states["notify_hold"] == "success"
    assert states["review_hold"] == "failed"  # rejected by default at the timeout
    assert states["upload_roster"] == "upstream_failed" and states["notify_summary"] == "upstream_failed"
    assert waited < 120
    # Nothing sent: only night 1's file on the server; the snapshot still night 1's.
    assert sorted(p.name for p in (night_env["sftp_root"] / REMOTE_DIR).iterdir()) == ["sample_isd_roster_20261120.txt"]
    assert _snapshot_date(night_env["data_root"]) == "2026-11-20"

    messages = night_env["smtp"].messages()
    assert sorted(m["To"] for m in messages) == ["data-oncall@example.org", "it@sample.k12.example"]
    oncall = next(m for m in messages if m["To"] == "data-oncall@example.org")
    assert oncall["Subject"].endswith("2026-11-21: review_hold")
    # One message for the point person (selected by To), addressed to nobody else.
    [message] = [m for m in messages if "it@sample.k12.example" in m["To"]]
    assert message["To"] == "it@sample.k12.example"
    assert "HELD" in message["Subject"] and "2026-11-21" in message["Subject"]
    assert set(message["Cc"].split(", ")) == {"coordinator@example.org", "data-oncall@example.org"}
    body = message.get_body(("html",)).get_content()
    assert "above the limit of 10.00%" in body and "review_hold" in body and "Approve" in body
    report = json.loads((night_env["data_root"] / "sample_isd" / "2026-11-21" / "qa_report.json").read_text())
    assert report["held"] is True and report["rows_delivered"] == 0
    # Nobody answered: the decision record says the timeout rejected it, and when.
    assert report["rejected_by"] == "qa.hold_timeout" and "approved_by" not in report
    assert dt.datetime.fromisoformat(report["rejected_at"]).tzinfo is not None
    _, deactivated = carried_students(
        night_env["sftp_root"] / REMOTE_DIR / "sample_isd_roster_20261120.txt",
        include_copy / "inbound" / "sample_isd" / "roster_20261121.csv",
    )
    assert report["changes"]["deactivated"] == deactivated == 134
    # The ids concerned are listed (up to 200), never names or dates of birth.
    changes = (night_env["data_root"] / "sample_isd" / "2026-11-21" / "changes.csv").read_text().splitlines()
    some_gone = [line.split(",")[0] for line in changes if line.endswith(",deactivated,")][:3]
    assert some_gone and all(sid in body for sid in some_gone)
    for value in ("García", "Okafor", "Martínez"):
        assert value not in body


def test_ids_that_lost_their_leading_zeros_hold_the_night_and_the_email_names_them(
    night_env: dict, include_copy: Path
) -> None:
    """Night 2's export went through Excel: two students' ids lost their leading zeros. Below every
    rate limit, the night is held all the same, and the email names each new id and the earlier one."""
    _configure(include_copy, qa__hold_timeout="2s")
    _first_night(include_copy, night_env)
    night1 = (night_env["sftp_root"] / REMOTE_DIR / "sample_isd_roster_20261120.txt").read_text().splitlines()[1:]
    slipped = [row[0] for row in (line.split("|") for line in night1) if row[0].startswith("0")][:2]
    excel = EXPORT.read_bytes()
    for old in slipped:
        excel = excel.replace(f"\r\n{old},".encode(), f"\r\n{old.lstrip('0')},".encode())
    (include_copy / "inbound" / "sample_isd" / "roster_20261121.csv").write_bytes(excel)

    with scheduler_timeout_sweep():
        run = _dag(include_copy).test(logical_date=logical(SECOND))

    states = _states(run)
    assert states["notify_hold"] == "success" and states["review_hold"] == "failed", states
    assert sorted(p.name for p in (night_env["sftp_root"] / REMOTE_DIR).iterdir()) == ["sample_isd_roster_20261120.txt"]
    folder = night_env["data_root"] / "sample_isd" / "2026-11-21"
    report = json.loads((folder / "qa_report.json").read_text())
    assert report["held"] is True and report["changes"]["state_id_changed"] == 2
    assert report["changes"]["hold_reasons"][0].startswith("2 students appear under a new State Test Number")
    assert len(report["changes"]["hold_reasons"]) == 1  # no rate limit is crossed
    rows = (folder / "changes.csv").read_text().splitlines()
    body = next(m for m in night_env["smtp"].messages() if m["To"] == "it@sample.k12.example")
    body = body.get_body(("html",)).get_content()
    assert "2 students appear under a new State Test Number" in body
    for old in slipped:
        assert f"{old.lstrip('0')},state_id_changed,state_test_number (was {old})" in rows
        assert old.lstrip("0") in body and f"state_test_number (was {old})" in body


def test_approve_hold_delivers_the_held_night_with_carried_students(night_env: dict, include_copy: Path) -> None:
    _truncated_second_export(include_copy)
    _first_night(include_copy, night_env)

    run = _dag(include_copy).test(logical_date=logical(SECOND), run_conf={"approve_hold": True})

    states = _states(run)
    assert str(run.state) == "success", states
    assert states["notify_hold"] == "skipped" and states["review_hold"] == "skipped"
    delivered = (night_env["sftp_root"] / REMOTE_DIR / "sample_isd_roster_20261121.txt").read_bytes().decode("utf-8")
    rows = [line.split("|") for line in delivered.split("\r\n")[1:] if line]
    report = json.loads((night_env["data_root"] / "sample_isd" / "2026-11-21" / "qa_report.json").read_text())
    carried, _ = carried_students(
        night_env["sftp_root"] / REMOTE_DIR / "sample_isd_roster_20261120.txt",
        include_copy / "inbound" / "sample_isd" / "roster_20261121.csv",
    )
    assert report["changes"]["carried"] == carried == 143
    # Every student delivered on night 1 is still in the file: present tonight, or carried as inactive.
    night1 = (night_env["sftp_root"] / REMOTE_DIR / "sample_isd_roster_20261120.txt").read_bytes().decode("utf-8")
    night1_ids = {line.split("|")[0] for line in night1.split("\r\n")[1:] if line}
    assert night1_ids <= {r[0] for r in rows}
    inactive = [r for r in rows if r[10] == "Inactive"]
    assert len(inactive) >= carried
    assert _snapshot_date(night_env["data_root"]) == "2026-11-21"
    # No hold email; the summary says the held roster was approved and delivered.
    [summary] = night_env["smtp"].messages()
    assert summary["To"] == "it@sample.k12.example" and "2026-11-21: delivered" in summary["Subject"]
    assert "crossed a review threshold and the roster was approved" in summary.get_body(("html",)).get_content()


def test_blackout_night_reads_and_sends_nothing(night_env: dict, include_copy: Path) -> None:
    _configure(include_copy, blackout=[{"start": "2026-11-15", "end": "2026-11-30"}])

    run = _dag(include_copy).test(logical_date=logical(FIRST))

    states = _states(run)
    assert str(run.state) == "success"
    assert states["check_blackout"] == "success"
    assert {k: v for k, v in states.items() if k != "check_blackout"} == dict.fromkeys(
        set(states) - {"check_blackout"}, "skipped"
    )
    assert not (night_env["data_root"] / "sample_isd" / "2026-11-20").exists()
    assert not any(night_env["sftp_root"].rglob("*.txt"))
    assert night_env["smtp"].messages() == []


@contextmanager
def answer_hold(option: str, user: str) -> Iterator[dict]:
    """Answer ``review_hold`` as a person on the Required Actions page would, once it waits for input:
    through the handler of ``PATCH /api/v2/.../hitlDetails`` (Airflow's own route function), which
    records the answer and resumes the task. Yields what the page showed (subject and body)."""
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    class Reviewer:
        def get_id(self) -> str:
            return user

        def get_name(self) -> str:
            return user

    shown: dict = {}
    stop = threading.Event()

    def answer() -> None:
        while not stop.wait(0.2):
            with create_session() as session:
                row = session.execute(
                    select(TaskInstance, HITLDetail)
                    .join(HITLDetail, HITLDetail.ti_id == TaskInstance.id)
                    .where(
                        TaskInstance.task_id == "review_hold", TaskInstance.state == TaskInstanceState.AWAITING_INPUT
                    )
                ).first()
                if row is None:
                    continue
                ti, detail = row
                shown.update(subject=detail.subject, body=detail.body)
                update_hitl_detail(
                    dag_id=ti.dag_id,
                    dag_run_id=ti.run_id,
                    task_id=ti.task_id,
                    update_hitl_detail_payload=UpdateHITLDetailPayload(chosen_options=[option]),
                    user=Reviewer(),
                    session=session,
                )
            return

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield shown
    finally:
        stop.set()
        thread.join(timeout=10)


def test_a_hold_approved_on_the_required_actions_page_delivers_and_records_who(
    night_env: dict, include_copy: Path
) -> None:
    _truncated_second_export(include_copy)
    _first_night(include_copy, night_env)

    with answer_hold("Approve", "lee.reviewer") as shown:
        run = _dag(include_copy).test(logical_date=logical(SECOND))

    states = _states(run)
    assert str(run.state) == "success", states
    assert states["review_hold"] == "success" and states["upload_roster"] == "success"
    assert (night_env["sftp_root"] / REMOTE_DIR / "sample_isd_roster_20261121.txt").is_file()
    folder = night_env["data_root"] / "sample_isd" / "2026-11-21"
    report = json.loads((folder / "qa_report.json").read_text())
    assert report["approved_by"] == "lee.reviewer" and report["rows_delivered"] == report["rows_in_file"]
    assert dt.datetime.fromisoformat(report["approved_at"]).tzinfo is not None
    # What the page showed: the roster date, the counts against the limits, the first ids; no PII.
    assert shown["subject"] == "Roster Sample ISD (sample_isd) 2026-11-21: held, approve delivery?"
    changes = report["changes"]
    assert f"| deactivated | {changes['deactivated']} |" in shown["body"]
    assert f"Deactivation rate **{changes['deactivation_rate'] * 100:.2f}%** (limit 10.00%)" in shown["body"]
    assert changes["hold_reasons"][0] in shown["body"]
    deactivated = sorted(
        line.split(",")[0]
        for line in (folder / "changes.csv").read_text().splitlines()
        if line.endswith(",deactivated,")
    )
    assert f"{deactivated[0]} (deactivated)" in shown["body"]
    for value in ("García", "Okafor", "Martínez"):
        assert value not in shown["body"]


def test_a_hold_rejected_on_the_required_actions_page_sends_nothing_and_records_who(
    night_env: dict, include_copy: Path
) -> None:
    _truncated_second_export(include_copy)
    _first_night(include_copy, night_env)

    with answer_hold("Reject", "lee.reviewer") as shown:
        run = _dag(include_copy).test(logical_date=logical(SECOND))

    states = _states(run)
    assert shown["subject"] == "Roster Sample ISD (sample_isd) 2026-11-21: held, approve delivery?"
    assert str(run.state) == "failed", states
    assert states["review_hold"] == "failed"
    assert states["upload_roster"] == "upstream_failed" and states["notify_summary"] == "upstream_failed"
    assert sorted(p.name for p in (night_env["sftp_root"] / REMOTE_DIR).iterdir()) == ["sample_isd_roster_20261120.txt"]
    assert asset_events(run) == []
    assert _snapshot_date(night_env["data_root"]) == "2026-11-20"
    report = json.loads((night_env["data_root"] / "sample_isd" / "2026-11-21" / "qa_report.json").read_text())
    assert report["rejected_by"] == "lee.reviewer" and report["rows_delivered"] == 0
    assert dt.datetime.fromisoformat(report["rejected_at"]).tzinfo is not None
    assert "approved_by" not in report and "approved_at" not in report
