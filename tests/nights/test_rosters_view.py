"""The Rosters view in Airflow's own api-server app (``create_app``, the plugin loaded from plugins/):
a real night through ``dag.test()``, then its JSON and pages through a TestClient, signed in with a
token of the tests' auth manager (Airflow's SimpleAuthManager), and refused without one."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from conftest import INCLUDE, REPO

pytestmark = pytest.mark.e2e

LOGICAL = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


def _forget_runs(dag_id: str) -> None:
    """The metadata database is shared by the session's tests: earlier nights of the district (a
    failed one from the on-call or privacy tests) would otherwise be its newest failure here."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(DagRun).where(DagRun.dag_id == dag_id))


@pytest.fixture
def night(night_env: dict, airflow_db) -> dict:
    from roster.airflow.nightly import build_all

    _forget_runs("roster_sample_isd")
    run = build_all(root=INCLUDE)["roster_sample_isd"].test(logical_date=LOGICAL)
    assert str(run.state) == "success"
    report = json.loads((night_env["data_root"] / "sample_isd" / "2026-11-20" / "qa_report.json").read_text())
    return {"run_id": run.run_id, "report": report}


@pytest.fixture
def client(airflow_db) -> TestClient:
    from airflow.api_fastapi.app import create_app

    return TestClient(create_app("core"))


def _token(role: str | None) -> dict[str, str]:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="rita", role=role))
    return {"Authorization": f"Bearer {token}"}


def test_the_plugin_mounts_the_view_and_its_nav_link(client: TestClient) -> None:
    from airflow import plugins_manager
    from scripts import fab_roles

    views, _ = plugins_manager._get_ui_plugins()
    assert {"name": "Rosters", "href": "rosters/", "destination": "nav", "url_route": "rosters"} in views
    assert fab_roles.ROSTERS_VIEW == "Rosters"
    assert (REPO / "plugins" / "rosters_view.py").is_file()


def test_a_task_process_loads_the_plugin_without_building_the_app() -> None:
    """The task runner loads every plugin (for their macros) in every task process; the view's app and
    Airflow's API security layer it needs are imported only where the api-server mounts the app."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; from airflow.sdk.plugins_manager import _get_plugins, integrate_macros_plugins;"
        "integrate_macros_plugins(); plugins, _ = _get_plugins();"
        "print(sorted(p.name for p in plugins));"
        "print(sorted(m for m in ('roster.rosters.app', 'airflow.api_fastapi.core_api.security', 'fastapi')"
        " if m in sys.modules))"
    )
    env = dict(os.environ, PYTHONPATH=f"{REPO / 'plugins'}{os.pathsep}{REPO}")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    loaded, heavy = result.stdout.strip().splitlines()[-2:]
    assert "'rosters'" in loaded
    assert heavy == "[]"


PATHS = ("/rosters/", "/rosters/api/districts", "/rosters/sample_isd", "/rosters/api/districts/sample_isd/nights")


def test_no_data_without_a_user_who_may_read_the_view(client: TestClient, night: dict) -> None:
    for path in PATHS:
        unauthenticated = client.get(path)
        assert unauthenticated.status_code == 401 and "sample_isd" not in unauthenticated.text, path
        no_role = client.get(path, headers=_token(None))
        assert no_role.status_code == 403 and "sample_isd" not in no_role.text, path
        assert client.get(path, headers={"Authorization": "Bearer not-a-token"}).status_code == 403, path
        assert client.get(path, headers=_token("viewer")).status_code == 200, path


def test_the_json_is_what_qa_report_json_says(client: TestClient, night: dict) -> None:
    report, headers = night["report"], _token("viewer")

    districts = client.get("/rosters/api/districts", headers=headers)
    assert districts.status_code == 200
    by_id = {d["id"]: d for d in districts.json()}
    assert set(by_id) == {"sample_isd", "sample_isd_xlsx", "sample_isd_oneroster"}
    sample = by_id["sample_isd"]
    assert sample["last_delivered"] == "2026-11-20" and sample["state"] == "ok"
    assert (sample["rows_delivered"], sample["rows_rejected"], sample["reject_rate"]) == (
        report["rows_delivered"],
        report["rows_rejected"],
        report["reject_rate"],
    )
    assert sample["pending_hold"] is None and sample["last_failure"] is None
    assert sample["staleness"]["stale"] is False

    nights = client.get("/rosters/api/districts/sample_isd/nights?days=30", headers=headers)
    assert nights.status_code == 200
    [shown] = nights.json()
    assert shown["run_id"] == night["run_id"]
    for key in ("date", "rows_read", "rows_delivered", "rows_rejected", "reject_rate", "rejects_by_reason", "verdict"):
        assert shown[key] == report[key], key
    assert shown["changes"]["added"] == report["changes"]["added"] == 286
    assert client.get("/rosters/api/districts/nowhere/nights", headers=headers).status_code == 404


def test_the_pages_show_the_districts_and_the_night_without_student_data(client: TestClient, night: dict) -> None:
    import csv

    headers = _token("viewer")
    index = client.get("/rosters/?sort=rows_delivered&order=desc", headers=headers)
    assert index.status_code == 200 and 'data-district="sample_isd" data-state="ok"' in index.text
    assert index.text.index('data-district="sample_isd"') < index.text.index('data-district="sample_isd_xlsx"')
    held_only = client.get("/rosters/?state=held", headers=headers)
    assert "data-district=" not in held_only.text and "No district in state held" in held_only.text
    assert client.get("/rosters/?state=bogus", headers=headers).status_code == 422

    page = client.get("/rosters/sample_isd", headers=headers)
    assert page.status_code == 200
    assert f'href="/dags/roster_sample_isd/runs/{night["run_id"].replace(":", "%3A").replace("+", "%2B")}"' in page.text
    assert '<tr id="night-2026-11-20" data-night="2026-11-20">' in page.text  # the hold's link target
    export = INCLUDE / "inbound" / "sample_isd" / "roster_20261120.csv"
    with export.open(encoding="utf-8-sig", newline="") as handle:
        private = {
            v
            for row in csv.DictReader(handle)
            for v in (row["DOB"], row["FIRST_NAME"], row["LAST_NAME"])
            if len(v) >= 5
        }
    for text in (index.text, page.text, client.get("/rosters/api/districts", headers=headers).text):
        assert not [v for v in private if v in text]
    # Three inline SVG charts, or (matplotlib not installed) a sentence saying why there are none.
    assert (page.text.count("<svg") == 3) != ("Charts not shown: the charts need matplotlib" in page.text)
    pytest.importorskip("matplotlib", reason="the charts need matplotlib (requirements.in)")
    assert page.text.count("<svg") == 3


def test_a_failed_night_is_the_districts_last_failure(
    client: TestClient, night_env: dict, include_copy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``roster.rosters.airflow_state`` reads from the metadata database after a real failed run
    (not hand-made objects): the failed task and its run, and the district's state."""
    from conftest import configure_district
    from roster.airflow.nightly import build_all
    from roster.rosters.airflow_state import NO_ERROR_IN_LOG

    configure_district(include_copy, source__wait_for="3s")
    monkeypatch.setenv("ROSTER_SENSOR_POKE_SECONDS", "1")
    monkeypatch.setenv("ROSTER_INCLUDE_DIR", str(include_copy))
    _forget_runs("roster_sample_isd")
    # No export for 2026-11-22: wait_for_export gives up after 3s.
    run = build_all(root=include_copy)["roster_sample_isd"].test(logical_date=LOGICAL + dt.timedelta(days=2))
    assert str(run.state) == "failed"

    districts = client.get("/rosters/api/districts", headers=_token("viewer"))
    assert districts.status_code == 200
    sample = {d["id"]: d for d in districts.json()}["sample_isd"]
    assert sample["state"] == "failed" and sample["pending_hold"] is None and sample["last_delivered"] is None
    failure = sample["last_failure"]
    assert (failure["task_id"], failure["run_id"]) == ("wait_for_export", run.run_id)
    assert failure["url"] == f"/dags/roster_sample_isd/runs/{quote(run.run_id, safe='')}/tasks/wait_for_export"
    assert failure["at"] is not None
    # The first error line comes from the task's log as the UI reads it (a file, or the worker's log
    # server). dag.test() runs tasks in-process and writes no log file, so here the view says it found
    # none rather than inventing one (the on-call email, from the exception itself, has the line).
    assert failure["error"] == NO_ERROR_IN_LOG
    index = client.get("/rosters/?state=failed", headers=_token("viewer"))
    assert 'data-district="sample_isd" data-state="failed"' in index.text and "wait_for_export" in index.text


def test_a_few_nights_are_reported_as_their_artifacts_say(
    client: TestClient, night_env: dict, include_copy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two real nights of the district: the nights API lists both, newest first, each as its own
    qa_report.json says and linked to its own run; the district's row is the newer night's."""
    from roster.airflow.nightly import build_all

    monkeypatch.setenv("ROSTER_INCLUDE_DIR", str(include_copy))
    export = include_copy / "inbound" / "sample_isd" / "roster_20261120.csv"
    (export.parent / "roster_20261121.csv").write_bytes(export.read_bytes())
    _forget_runs("roster_sample_isd")
    runs = {}
    for day in (LOGICAL, LOGICAL + dt.timedelta(days=1)):
        run = build_all(root=include_copy)["roster_sample_isd"].test(logical_date=day)
        assert str(run.state) == "success"
        runs[day.date().isoformat()] = run.run_id
    reports = {
        day: json.loads((night_env["data_root"] / "sample_isd" / day / "qa_report.json").read_text()) for day in runs
    }
    headers = _token("viewer")

    shown = client.get("/rosters/api/districts/sample_isd/nights?days=30", headers=headers).json()
    assert [n["date"] for n in shown] == ["2026-11-21", "2026-11-20"]
    for night in shown:
        report = reports[night["date"]]
        assert night["run_id"] == runs[night["date"]]
        for key in ("rows_read", "rows_delivered", "rows_rejected", "reject_rate", "rejects_by_reason", "verdict"):
            assert night[key] == report[key], (night["date"], key)
        assert night["changes"]["added"] == report["changes"]["added"]
    # The same export twice: night 1 adds every delivered student, night 2 adds none.
    assert [n["changes"]["added"] for n in shown] == [0, reports["2026-11-20"]["rows_delivered"]]

    sample = {d["id"]: d for d in client.get("/rosters/api/districts", headers=headers).json()}["sample_isd"]
    assert sample["last_delivered"] == "2026-11-21" and sample["state"] == "ok"
    newer = reports["2026-11-21"]
    assert (sample["rows_delivered"], sample["rows_rejected"]) == (newer["rows_delivered"], newer["rows_rejected"])
