"""A held night answered in a real browser: Airflow's Required Actions page, Approve, delivered.

Night 1 is delivered (the baseline); night 2's export is night 1's cut in half, so it would
deactivate half the students and is held at ``review_hold``. Both are triggered through the REST API
and run by the real scheduler. The reviewer logs in through the login page, finds the hold on the
Required Actions page (the subject names the district and the roster date), opens it and clicks
Approve; the night then delivers, records who approved and when, and its asset gets its event.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from browser.stack import Stack, dag_run, task_states, trigger

pytestmark = [
    pytest.mark.browser,
    pytest.mark.real_clock("the browser and the Airflow processes run on the real clock; tokens and cookies with them"),
]

DAG_ID = "roster_sample_isd"
SUBJECT = "Roster Sample ISD (sample_isd) 2026-11-21: held, approve delivery?"
NIGHT_TIMEOUT = 300.0


def _finished(stack: Stack, client, run_id: str) -> dict:
    return stack.wait_for(
        f"run {run_id} to finish",
        lambda: (run := dag_run(client, DAG_ID, run_id))["state"] in ("success", "failed") and run,
        timeout=NIGHT_TIMEOUT,
    )


def _held_night(stack: Stack, client) -> None:
    """Night 1 delivered, then night 2 (half of night 1's export) waiting in review_hold."""
    trigger(client, DAG_ID, "browser_night1", "2026-11-20T08:00:00Z")
    run = _finished(stack, client, "browser_night1")
    assert run["state"] == "success", task_states(client, DAG_ID, "browser_night1")
    inbound = stack.include / "inbound" / "sample_isd"
    lines = (inbound / "roster_20261120.csv").read_bytes().split(b"\r\n")
    (inbound / "roster_20261121.csv").write_bytes(b"\r\n".join(lines[:151]) + b"\r\n")
    trigger(client, DAG_ID, "browser_night2", "2026-11-21T08:00:00Z")
    stack.wait_for(
        "review_hold to wait for input",
        lambda: task_states(client, DAG_ID, "browser_night2").get("review_hold") == "awaiting_input",
        timeout=NIGHT_TIMEOUT,
    )


def test_a_held_night_approved_on_the_required_actions_page_delivers(
    airflow_ui: Stack, logged_in_page, shots: Path, capsys: pytest.CaptureFixture
) -> None:
    with capsys.disabled():
        print(f"\nscreenshots: {shots}")
    page = logged_in_page
    with airflow_ui.api() as client:
        _held_night(airflow_ui, client)

        page.goto(f"{airflow_ui.base_url}/required_actions")
        row = page.get_by_role("row").filter(has_text=SUBJECT)
        row.wait_for()
        assert "browser_night2" in row.inner_text() and "review_hold" in row.inner_text()
        page.screenshot(path=str(shots / "required_actions.png"), full_page=True)
        row.get_by_role("button", name="Open Review Drawer").click()
        drawer = page.get_by_role("dialog")
        drawer.get_by_text(SUBJECT).wait_for()
        shown = drawer.inner_text()
        assert "roster date 2026-11-21: held, nothing has been sent" in shown
        assert "above the limit of 10.00%" in shown
        for value in ("García", "Okafor", "Martínez"):  # names never reach the page
            assert value not in shown
        page.screenshot(path=str(shots / "review_drawer.png"), full_page=True)
        drawer.get_by_test_id("hitl-option-Approve").click()

        run = _finished(airflow_ui, client, "browser_night2")
        states = task_states(client, DAG_ID, "browser_night2")
        assert run["state"] == "success", states
        assert states["review_hold"] == "success" and states["upload_roster"] == "success"
        events = (
            client.get("/api/v2/assets/events", params={"source_dag_id": DAG_ID, "source_run_id": "browser_night2"})
            .raise_for_status()
            .json()["asset_events"]
        )
        page.reload()
        page.get_by_role("row").filter(has_text=SUBJECT).filter(has_text="Approval Received").filter(
            has_text=airflow_ui.username
        ).wait_for()
        page.screenshot(path=str(shots / "after_approval.png"), full_page=True)

    assert (airflow_ui.sftp_root / "upload" / "sample_isd" / "sample_isd_roster_20261121.txt").is_file()
    report = json.loads((airflow_ui.data_root / "sample_isd" / "2026-11-21" / "qa_report.json").read_text())
    assert report["approved_by"] == airflow_ui.username and report["rows_delivered"] == report["rows_in_file"] > 0
    assert dt.datetime.fromisoformat(report["approved_at"]).tzinfo is not None
    assert "rejected_by" not in report
    [event] = events
    assert event["source_task_id"] == "upload_roster"
    assert event["extra"]["roster_date"] == "2026-11-21" and event["extra"]["district_id"] == "sample_isd"
    assert sorted(p.name for p in shots.iterdir()) == [
        "after_approval.png",
        "login.png",
        "required_actions.png",
        "review_drawer.png",
    ]
