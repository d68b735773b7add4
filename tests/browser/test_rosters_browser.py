"""The Rosters view in a real browser, after real nights run by the real scheduler.

The district's row on ``/rosters/`` shows what the night's artifacts say (the snapshot's date, the
rows delivered and rejected in that night's ``qa_report.json``); its page ``/rosters/sample_isd``
draws its trend charts as inline SVG (no script, no CDN). Screenshots: ``rosters.png`` (the list)
and ``rosters_district.png`` (the charts) under the test's output folder; the README's picture is
the list's.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from browser.stack import Stack, dag_run, task_states, trigger

pytestmark = [
    pytest.mark.browser,
    pytest.mark.real_clock("the browser and the Airflow processes run on the real clock; tokens and cookies with them"),
]

DAG_ID = "roster_sample_isd"
NIGHT_TIMEOUT = 300.0


def _a_delivered_night(stack: Stack) -> dict:
    """The snapshot pointer of the district's last delivery; runs night 2026-11-20 when none was
    delivered yet (the session's other browser test may have run nights before this one)."""
    pointer = stack.data_root / "sample_isd" / "snapshot" / "snapshot.json"
    if not pointer.exists():
        with stack.api() as client:
            trigger(client, DAG_ID, "rosters_night1", "2026-11-20T08:00:00Z")
            run = stack.wait_for(
                "run rosters_night1 to finish",
                lambda: (r := dag_run(client, DAG_ID, "rosters_night1"))["state"] in ("success", "failed") and r,
                timeout=NIGHT_TIMEOUT,
            )
            assert run["state"] == "success", task_states(client, DAG_ID, "rosters_night1")
    return json.loads(pointer.read_text())


def test_the_rosters_pages_show_the_nights_as_the_artifacts_say(
    airflow_ui: Stack, logged_in_page, shots: Path, capsys: pytest.CaptureFixture
) -> None:
    with capsys.disabled():
        print(f"\nscreenshots: {shots}")
    delivered = _a_delivered_night(airflow_ui)
    report = json.loads((airflow_ui.data_root / "sample_isd" / delivered["date"] / "qa_report.json").read_text())
    page = logged_in_page

    page.goto(f"{airflow_ui.base_url}/rosters/")
    row = page.locator("tr[data-district=sample_isd]")
    row.wait_for()
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert cells[0] == "sample_isd" and cells[1] == "Sample ISD"
    assert cells[4] == delivered["date"]
    assert cells[5] == str(report["rows_delivered"]) and cells[6] == str(report["rows_rejected"])
    page.screenshot(path=str(shots / "rosters.png"))

    row.get_by_role("link", name="sample_isd").click()
    page.wait_for_url("**/rosters/sample_isd")
    charts = page.locator("svg")
    charts.first.wait_for()
    assert charts.count() >= 3
    assert page.locator("script[src]").count() == 0  # works offline: nothing fetched from elsewhere
    page.screenshot(path=str(shots / "rosters_district.png"), full_page=True)

    # The README's picture, refreshed when asked (ROSTERS_SCREENSHOT=<path>).
    if target := os.environ.get("ROSTERS_SCREENSHOT"):
        shutil.copyfile(shots / "rosters.png", target)
