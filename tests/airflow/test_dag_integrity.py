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
    # Retention at the start of the night, beside the export's path: never the run's only leaf, so
    # it can neither hold back a roster nor turn a failed night into a successful run.
    ("check_blackout", "apply_retention"),
    ("check_blackout", "wait_for_export"),
    ("wait_for_export", "extract_export"),
    ("extract_export", "build_roster"),
    ("build_roster", "notify_qa_failure"),
    ("build_roster", "upload_roster"),
    ("build_roster", "notify_hold"),
    ("build_roster", "yield_to_newer_night"),
    ("notify_hold", "review_hold"),
    ("review_hold", "upload_roster"),
    ("upload_roster", "notify_summary"),
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
    assert dag.get_task("build_roster").retries == 0
    for task in dag.tasks:
        assert task.doc_md, f"{task.task_id} has no docstring for the UI"
    # Only the upload declares the delivery asset (so every event of it is a delivery).
    outlets = {task.task_id: [a.uri for a in task.outlets] for task in dag.tasks if task.outlets}
    assert outlets == {"upload_roster": ["roster://sample_isd/"]}


def test_a_downstream_dag_can_be_scheduled_on_a_districts_deliveries() -> None:
    # The README's example: the asset is rebuilt from the district id alone, equal to the outlet's.
    from airflow.sdk import DAG

    from roster.airflow.assets import delivery_asset

    with DAG("after_sample_isd_delivery", schedule=[delivery_asset("sample_isd")]) as downstream:
        pass
    (asset,) = downstream.timetable.asset_condition.objects
    assert (asset.name, asset.uri, asset.group) == ("roster_sample_isd", "roster://sample_isd/", "roster")


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
        last_automated_data_interval=DataInterval(
            pendulum.datetime(2026, 11, 19, 8, tz="UTC"), pendulum.datetime(2026, 11, 19, 8, tz="UTC")
        ),
        restriction=restriction,
    )
    assert winter.logical_date == pendulum.datetime(2026, 11, 20, 8, tz="UTC")
    summer = core.next_dagrun_info(
        last_automated_data_interval=DataInterval(
            pendulum.datetime(2026, 6, 1, 7, tz="UTC"), pendulum.datetime(2026, 6, 1, 7, tz="UTC")
        ),
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


@pytest.mark.parametrize("dag_file", sorted(p.name for p in (REPO / "dags").glob("*.py")))
def test_parsing_imports_no_pandas_or_pandera(dag_file: str) -> None:
    """Every DAG file parses without pandas, pandera, pyarrow or paramiko (they load inside tasks)."""
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]);"
        "heavy = sorted(m for m in ('pandas', 'pandera', 'pyarrow', 'paramiko') if m in sys.modules);"
        "print(','.join(heavy))"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO / "plugins"), ROSTER_INCLUDE_DIR=str(INCLUDE))
    result = subprocess.run(
        [sys.executable, "-c", code, str(REPO / "dags" / dag_file)], capture_output=True, text=True, env=env, check=True
    )
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
    result = subprocess.run(
        [sys.executable, "-c", code, str(REPO / "dags" / "roster_districts.py")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert result.stdout.strip() == "['roster_other_isd']"


def _add_district(include: Path, district_id: str, **changes: object) -> Path:
    data = yaml.safe_load((include / "districts" / "sample_isd.yaml").read_text())
    data = dict(data, district_id=district_id, name=district_id.replace("_", " ").title(), **changes)
    path = include / "districts" / f"{district_id}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _assert_stand_in(bag, dag_id: str, *needles: str) -> None:
    stand_in = bag.dags[dag_id]
    assert [t.task_id for t in stand_in.tasks] == ["config_error"]
    assert type(stand_in.timetable).__name__ == "NullTimetable"
    assert "config-error" in stand_in.tags
    for needle in needles:
        assert needle in stand_in.doc_md, (needle, stand_in.doc_md)
    assert "Traceback" not in stand_in.doc_md


@pytest.mark.parametrize(
    ("fault", "needles"),
    [
        ("missing_table", ("crossmatch/broken_isd/grades.csv", "cross-match table not found")),
        ("missing_folder", ("crossmatch/nowhere", "cross-match folder not found")),
        ("duplicate_code", ("crossmatch/broken_isd/campuses.csv", "line 3: district_code '101' is listed twice")),
        ("bad_header", ("crossmatch/broken_isd/grades.csv", "line 1: header must be district_code,rethink_code")),
        ("unknown_layout_field", ("layouts/broken_layout.yaml", "key 'columns.1.field'")),
        ("missing_layout", ("layouts/no_such_layout.yaml", "file not found")),
        (
            "bad_vendor_code",
            (
                "crossmatch/broken_isd/grades.csv: line 3: rethink_code 'K' is not one of the vendor's grade codes",
                "vendor_codes/grades.csv); did you mean 'k'?",
            ),
        ),
    ],
)
def test_broken_tables_or_layout_give_a_stand_in_while_the_others_load(
    monkeypatch: pytest.MonkeyPatch, include_copy: Path, fault: str, needles: tuple[str, ...]
) -> None:
    """Parsing checks what ``roster check-config`` checks: the tables and the layout, not only the file."""
    tables = include_copy / "crossmatch" / "broken_isd"
    shutil.copytree(include_copy / "crossmatch" / "sample_isd", tables)
    changes: dict[str, object] = {"crossmatch": "crossmatch/broken_isd"}
    if fault == "missing_table":
        (tables / "grades.csv").unlink()
    elif fault == "missing_folder":
        changes["crossmatch"] = "crossmatch/nowhere"
    elif fault == "duplicate_code":
        (tables / "campuses.csv").write_text("district_code,rethink_code\n101,SISD-EL-101\n101,SISD-EL-102\n")
    elif fault == "bad_header":
        (tables / "grades.csv").write_text("code,rethink\nKG,K\n")
    elif fault == "unknown_layout_field":
        layout = yaml.safe_load((include_copy / "layouts" / "rethink_ed.yaml").read_text())
        layout["name"] = "broken_layout"
        layout["columns"][1]["field"] = "locker_number"
        (include_copy / "layouts" / "broken_layout.yaml").write_text(yaml.safe_dump(layout))
        changes["destination"] = dict(
            yaml.safe_load((include_copy / "districts" / "sample_isd.yaml").read_text())["destination"],
            layout="broken_layout",
        )
    elif fault == "bad_vendor_code":
        # Only broken_isd's layout names a list, where the vendor spells k what the table says K.
        (include_copy / "vendor_codes").mkdir()
        (include_copy / "vendor_codes" / "grades.csv").write_text(
            "rethink_code\nk\n" + "".join(f"{n}\n" for n in ["PK", *range(1, 13)])
        )
        layout = yaml.safe_load((include_copy / "layouts" / "rethink_ed.yaml").read_text())
        layout["name"] = "coded_layout"
        layout["vendor_codes"] = {"grade": "vendor_codes/grades.csv"}
        (include_copy / "layouts" / "coded_layout.yaml").write_text(yaml.safe_dump(layout))
        changes["destination"] = dict(
            yaml.safe_load((include_copy / "districts" / "sample_isd.yaml").read_text())["destination"],
            layout="coded_layout",
        )
    elif fault == "missing_layout":
        changes["destination"] = dict(
            yaml.safe_load((include_copy / "districts" / "sample_isd.yaml").read_text())["destination"],
            layout="no_such_layout",
        )
    _add_district(include_copy, "broken_isd", **changes)
    _add_district(include_copy, "second_isd")

    bag = _dagbag(monkeypatch, include_copy)

    assert bag.import_errors == {}
    assert _edges(bag.dags["roster_sample_isd"]) == EXPECTED_EDGES
    assert _edges(bag.dags["roster_second_isd"]) == EXPECTED_EDGES
    _assert_stand_in(bag, "roster_broken_isd", *needles)
    # The stand-in's one task fails with the same line `roster check-config` prints.
    from roster.cli import main

    assert main(["check-config", "--include-dir", str(include_copy)]) == 2


def test_a_district_file_name_that_is_no_dag_id_still_leaves_the_others_loading(
    monkeypatch: pytest.MonkeyPatch, include_copy: Path
) -> None:
    """``my isd.yaml`` cannot be ``roster_my isd``: the stand-in gets a safe id, the file still named."""
    _add_district(include_copy, "second_isd")
    (include_copy / "districts" / "my isd.yaml").write_text(
        (include_copy / "districts" / "second_isd.yaml").read_text()
    )

    bag = _dagbag(monkeypatch, include_copy)

    assert bag.import_errors == {}
    assert {"roster_sample_isd", "roster_second_isd"} <= set(bag.dag_ids)
    _assert_stand_in(bag, "roster_my_isd", "my isd.yaml", "district_id")


def test_retention_runs_at_the_start_beside_the_export_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A leaf beside the night's path: its success cannot make a failed night look successful."""
    dag = _dagbag(monkeypatch, INCLUDE).dags["roster_sample_isd"]
    retention = dag.get_task("apply_retention")
    assert retention.upstream_task_ids == {"check_blackout"}
    assert retention.downstream_task_ids == set()
    assert str(retention.trigger_rule) in ("all_success", "TriggerRule.ALL_SUCCESS")
    leaves = {t.task_id for t in dag.tasks if not t.downstream_task_ids}
    assert {"notify_qa_failure", "notify_summary", "yield_to_newer_night"} <= leaves


def test_trigger_form_params_and_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trigger form: two boolean params, off by default. Airflow does not re-validate their defaults
    at parse time here (they join the DAG after its tasks, for speed), so this test does."""
    dag = _dagbag(monkeypatch, INCLUDE).dags["roster_sample_isd"]
    assert dag.params.validate() == {"approve_hold": False, "force_upload": False}
    for name in ("approve_hold", "force_upload"):
        param = dag.params.get_param(name)
        assert param.schema["type"] == "boolean" and param.schema["title"] and param.description


@pytest.mark.parametrize(
    ("conf", "newer_night", "held", "not_held"),
    [
        ({}, False, "notify_hold", "upload_roster"),
        ({"approve_hold": True}, False, "upload_roster", "upload_roster"),
        ({"approve_hold": False}, False, "notify_hold", "upload_roster"),
        ({}, True, "yield_to_newer_night", "yield_to_newer_night"),
        ({"force_upload": True}, True, "notify_hold", "upload_roster"),
        ({"force_upload": True, "approve_hold": True}, True, "upload_roster", "upload_roster"),
    ],
)
def test_tasks_read_the_params_of_the_run_conf(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, conf: dict, newer_night: bool, held: str, not_held: str
) -> None:
    """A run's conf reaches every task's params (merged as a task run merges them), and build_roster's
    routing decides by them. The whole nights with ``approve_hold`` and ``force_upload`` are in
    test_safety_nights.py and test_oncall_nights.py; this one needs no servers."""
    import datetime as dt

    from airflow.sdk.definitions.param import process_params
    from airflow.sdk.exceptions import ParamValidationError
    from airflow.sdk.execution_time.context import set_current_context

    from roster.airflow import tasks as steps

    monkeypatch.setenv("ROSTER_DATA_ROOT", str(tmp_path))  # nothing delivered yet
    if newer_night:  # the vendor already holds a later night
        monkeypatch.setattr(steps, "newer_delivery", lambda district, day: day + dt.timedelta(days=1))
    dag = _dagbag(monkeypatch, INCLUDE).dags["roster_sample_isd"]
    with pytest.raises(ParamValidationError):
        process_params(dag, dag.get_task("build_roster"), {"approve_hold": "yes"}, suppress_exception=False)
    for task in dag.tasks:
        params = process_params(dag, task, conf, suppress_exception=False)
        assert params == {"approve_hold": False, "force_upload": False, **conf}, task.task_id

    from roster.config import load_district

    district = load_district(INCLUDE / "districts" / "sample_isd.yaml")
    params = process_params(dag, dag.get_task("build_roster"), conf, suppress_exception=False)
    context = {"params": params, "logical_date": dt.datetime(2026, 11, 21, 8, tzinfo=dt.UTC)}
    reasons = ["143 students deactivated"]
    with set_current_context(context):  # type: ignore[arg-type]
        assert steps._route(district, True, reasons) == held
        assert steps._route(district, False, reasons) == not_held
