"""Every operator of every roster DAG runs one callable of ``roster.airflow.tasks``, under ``fail_fast``."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException

from conftest import INCLUDE
from roster.airflow import tasks
from roster.airflow.operators import fail_fast
from roster.errors import InputError

#: Operators that run no Python callable of ours: the export sensor and the standard approval operator.
NOT_PYTHON = {"wait_for_export", "review_hold"}
FAIL_FAST_CODE = fail_fast(lambda: None).__code__


def _task_callable(operator) -> tuple[object, object]:
    """(the wrapper the operator runs, the function it wraps), through the ``functools.partial``."""
    bound = operator.python_callable
    assert isinstance(bound, functools.partial), operator.task_id
    return bound.func, bound.func.__wrapped__


def _dags():
    from roster.airflow.go_live import build_go_live_dag
    from roster.airflow.nightly import build_all
    from roster.airflow.watchdog import build_watchdog_dag

    return [build_all(INCLUDE)["roster_sample_isd"], build_go_live_dag(INCLUDE), build_watchdog_dag(INCLUDE)]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["nightly", "go_live", "watchdog"])
def test_every_operator_runs_a_task_of_the_tasks_module_under_fail_fast(index: int) -> None:
    dag = _dags()[index]
    python_tasks = [t for t in dag.tasks if t.task_id not in NOT_PYTHON]
    assert python_tasks
    for operator in python_tasks:
        wrapper, func = _task_callable(operator)
        assert wrapper.__code__ is FAIL_FAST_CODE, operator.task_id
        assert func.__module__ == "roster.airflow.tasks", operator.task_id
        assert getattr(tasks, func.__name__) is func and func.__name__ == operator.task_id
        assert operator.doc_md == func.__doc__
    assert {t.task_id for t in dag.tasks} - {t.task_id for t in python_tasks} <= NOT_PYTHON


def test_the_stand_in_dag_of_a_broken_district_runs_config_error_under_fail_fast(tmp_path: Path) -> None:
    from roster.airflow.nightly import broken_district_dag

    [operator] = broken_district_dag(tmp_path / "bad.yaml", "bad.yaml: line 1: broken").tasks
    wrapper, func = _task_callable(operator)
    assert wrapper.__code__ is FAIL_FAST_CODE and func is tasks.config_error
    with pytest.raises(AirflowFailException, match=re.escape("bad.yaml: line 1: broken")):
        operator.python_callable()


def test_fail_fast_fails_a_roster_error_at_once_and_lets_others_retry() -> None:
    def bad_input() -> None:
        raise InputError("roster.csv: line 3: field 'GRADE': empty")

    def network() -> None:
        raise ConnectionResetError("peer reset")

    with pytest.raises(AirflowFailException) as info:
        fail_fast(bad_input)()
    assert str(info.value) == "roster.csv: line 3: field 'GRADE': empty"
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(ConnectionResetError):
        fail_fast(network)()
    assert fail_fast(lambda x: x + 1)(1) == 2
