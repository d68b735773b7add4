"""DAG integrity: every district loads from the DAG folder, the graph is as designed, policies hold."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import INCLUDE, REPO

EXPECTED_EDGES = {
    ("check_blackout", "wait_for_export"),
    ("wait_for_export", "extract_export"),
    ("change_gate", "yield_to_newer_night"),
    ("extract_export", "validate_export"),
    ("validate_export", "qa_gate"),
    ("extract_export", "serialize_roster"),
    ("qa_gate", "serialize_roster"),
    ("qa_gate", "notify_qa_failure"),
    ("serialize_roster", "change_gate"),
    ("serialize_roster", "upload_roster"),
    ("change_gate", "upload_roster"),
    ("change_gate", "notify_hold"),
    ("notify_hold", "review_hold"),
    ("review_hold", "upload_roster"),
    ("upload_roster", "record_delivery"),
}


def _dagbag(monkeypatch: pytest.MonkeyPatch, include: Path):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("ROSTER_INCLUDE_DIR", str(include))
    return DagBag(dag_folder=str(REPO / "dags"))


def _edges(dag) -> set[tuple[str, str]]:
    return {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}


def test_every_district_loads_without_import_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    bag = _dagbag(monkeypatch, INCLUDE)
    assert bag.import_errors == {}
    districts = sorted(p.stem for p in (INCLUDE / "districts").glob("*.yaml"))
    assert sorted(set(bag.dag_ids) - {"roster_go_live", "roster_watchdog"}) == [f"roster_{d}" for d in districts]
    assert {"roster_go_live", "roster_watchdog"} <= set(bag.dag_ids)


def test_task_graph_and_policies(monkeypatch: pytest.MonkeyPatch) -> None:
    dag = _dagbag(monkeypatch, INCLUDE).dags["roster_sample_isd"]
    assert _edges(dag) == EXPECTED_EDGES
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert {"roster", "sample_isd"} <= set(dag.tags)
    assert "When a run fails" in dag.doc_md
    assert dag.timetable.expression == "0 2 * * *"
    assert str(dag.timetable.timezone) == "America/Chicago"
    assert dag.start_date.tzinfo is not None
    for task_id in ("extract_export", "upload_roster"):
        task = dag.get_task(task_id)
        assert task.retries >= 1 and task.retry_exponential_backoff
    for task_id in ("validate_export", "serialize_roster"):
        assert dag.get_task(task_id).retries == 0
    for task in dag.tasks:
        assert task.doc_md, f"{task.task_id} has no docstring for the UI"


def test_schedule_runs_in_district_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 02:00 America/Chicago schedule fires at 08:00 UTC in winter and 07:00 UTC in summer."""
    import pendulum

    dag = _dagbag(monkeypatch, INCLUDE).dags["roster_sample_isd"]
    from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable

    assert isinstance(dag.timetable, CronTriggerTimetable)
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction

    core = coerce_to_core_timetable(dag.timetable)
    restriction = TimeRestriction(earliest=pendulum.datetime(2026, 1, 1, tz="UTC"), latest=None, catchup=True)
    winter = core.next_dagrun_info(
        last_automated_data_interval=DataInterval(pendulum.datetime(2026, 11, 19, 8, tz="UTC"), pendulum.datetime(2026, 11, 19, 8, tz="UTC")),
        restriction=restriction,
    )
    assert winter.logical_date == pendulum.datetime(2026, 11, 20, 8, tz="UTC")
    summer = core.next_dagrun_info(
        last_automated_data_interval=DataInterval(pendulum.datetime(2026, 6, 1, 7, tz="UTC"), pendulum.datetime(2026, 6, 1, 7, tz="UTC")),
        restriction=restriction,
    )
    assert summer.logical_date == pendulum.datetime(2026, 6, 2, 7, tz="UTC")


def test_broken_district_file_leaves_the_others_loading(monkeypatch: pytest.MonkeyPatch, include_copy: Path) -> None:
    good = yaml.safe_load((include_copy / "districts" / "sample_isd.yaml").read_text())
    second = dict(good, district_id="second_isd", name="Second ISD")
    (include_copy / "districts" / "second_isd.yaml").write_text(yaml.safe_dump(second))
    broken = dict(good, district_id="broken_isd", timezone="Mars/Olympus")
    (include_copy / "districts" / "broken_isd.yaml").write_text(yaml.safe_dump(broken))

    bag = _dagbag(monkeypatch, include_copy)

    assert bag.import_errors == {}
    assert {"roster_sample_isd", "roster_second_isd"} <= set(bag.dag_ids)
    assert _edges(bag.dags["roster_second_isd"]) == EXPECTED_EDGES
    stand_in = bag.dags["roster_broken_isd"]
    assert [t.task_id for t in stand_in.tasks] == ["config_error"]
    assert type(stand_in.timetable).__name__ == "NullTimetable"  # never scheduled
    assert "broken_isd.yaml" in stand_in.doc_md and "timezone" in stand_in.doc_md
    assert "config-error" in stand_in.tags


def test_parsing_imports_no_pandas_or_pandera() -> None:
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]);"
        "heavy = sorted(m for m in ('pandas', 'pandera', 'pyarrow', 'paramiko') if m in sys.modules);"
        "print(','.join(heavy))"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO / "plugins"), ROSTER_INCLUDE_DIR=str(INCLUDE))
    result = subprocess.run([sys.executable, "-c", code, str(REPO / "dags" / "roster_districts.py")], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == ""


def test_parsing_context_builds_only_the_running_dag(include_copy: Path) -> None:
    good = yaml.safe_load((include_copy / "districts" / "sample_isd.yaml").read_text())
    (include_copy / "districts" / "other_isd.yaml").write_text(yaml.safe_dump(dict(good, district_id="other_isd")))
    code = "import runpy, sys; g = runpy.run_path(sys.argv[1]); print(sorted(k for k in g if k.startswith('roster_')))"
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO / "plugins"),
        ROSTER_INCLUDE_DIR=str(include_copy),
        _AIRFLOW_PARSING_CONTEXT_DAG_ID="roster_other_isd",
    )
    result = subprocess.run([sys.executable, "-c", code, str(REPO / "dags" / "roster_districts.py")], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "['roster_other_isd']"
