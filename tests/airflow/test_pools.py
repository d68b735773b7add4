"""``destination.pool`` on every SFTP task, and ``roster pools`` against Airflow's real metadata database."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from conftest import configure_district
from roster.airflow import tasks

#: The nightly tasks whose callables open an SFTP session (directly or through ``_copy_crossmatch``).
SFTP_TASKS = {"wait_for_export", "extract_export", "upload_roster"}


def _nightly(include: Path):
    from roster.airflow.nightly import build_all

    dag = build_all(include)["roster_sample_isd"]
    assert not dag.tags or "config-error" not in dag.tags, dag.description
    return dag


def _pools(dag) -> dict[str, str]:
    return {t.task_id: t.pool for t in dag.tasks}


def test_every_sftp_task_of_a_remote_district_runs_in_its_pool(include_copy: Path) -> None:
    configure_district(
        include_copy,
        destination__pool="rethink_sftp",
        source__path="sftp://rethink_sftp/inbound/roster_{date:%Y%m%d}.csv",
    )
    pools = _pools(_nightly(include_copy))
    assert {t for t, p in pools.items() if p == "rethink_sftp"} == SFTP_TASKS
    assert {p for t, p in pools.items() if t not in SFTP_TASKS} == {"default_pool"}


def test_a_local_export_keeps_only_the_upload_in_the_pool(include_copy: Path) -> None:
    configure_district(include_copy, destination__pool="rethink_sftp")
    pools = _pools(_nightly(include_copy))
    assert {t for t, p in pools.items() if p == "rethink_sftp"} == {"upload_roster"}


def test_remote_crossmatch_tables_put_extract_in_the_pool(include_copy: Path) -> None:
    configure_district(include_copy, destination__pool="rethink_sftp", crossmatch="sftp://rethink_sftp/crossmatch")
    pools = _pools(_nightly(include_copy))
    assert {t for t, p in pools.items() if p == "rethink_sftp"} == {"upload_roster", "extract_export"}


def test_without_a_pool_every_task_is_in_airflows_default_pool(include_copy: Path) -> None:
    assert set(_pools(_nightly(include_copy)).values()) == {"default_pool"}


def test_no_other_nightly_task_reaches_the_sftp_hook(include_copy: Path) -> None:
    """A new task that opens SFTP must join SFTP_TASKS (and ``sftp_pools``), or this fails."""
    dag = _nightly(include_copy)
    for task in dag.tasks:
        if task.task_id in SFTP_TASKS or task.task_id == "review_hold":
            continue
        source = inspect.getsource(getattr(tasks, task.task_id))
        assert "sftp" not in source.replace("sftp://", ""), task.task_id


def test_roster_pools_creates_updates_and_then_changes_nothing(
    airflow_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow.models import Pool

    from roster.cli import main

    include = tmp_path / "include"
    include.mkdir()
    pools = include / "pools.yaml"
    pools.write_text("pools:\n  test_vendor_a:\n    slots: 2\n    description: vendor A\n")
    assert main(["pools", "--include-dir", str(include)]) == 0
    assert "pool test_vendor_a: created (2 slots)" in capsys.readouterr().out
    assert main(["pools", "--include-dir", str(include)]) == 0
    out = capsys.readouterr().out
    assert "pool test_vendor_a: unchanged (2 slots)" in out
    assert "pools: 0 of 1 changed" in out
    pools.write_text("pools:\n  test_vendor_a:\n    slots: 5\n    description: vendor A\n")
    assert main(["pools", "--include-dir", str(include)]) == 0
    assert "pool test_vendor_a: updated (slots 2 -> 5)" in capsys.readouterr().out
    pool = Pool.get_pool("test_vendor_a")
    assert pool is not None
    assert (pool.slots, pool.description) == (5, "vendor A")


def test_roster_pools_refuses_a_bad_file_before_touching_airflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from roster.cli import main

    (tmp_path / "pools.yaml").write_text("pools:\n  v:\n    slots: two\n")
    assert main(["pools", "--include-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'pools.yaml'}: key 'pools.v.slots':" in err


def test_roster_pools_without_a_migrated_database_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from roster.airflow import pools as airflow_pools
    from roster.cli import main

    def unmigrated(_pools):
        from sqlalchemy.exc import OperationalError

        raise OperationalError("SELECT slot_pool", {}, Exception("no such table: slot_pool"))

    monkeypatch.setattr(airflow_pools, "_apply", unmigrated)
    (tmp_path / "pools.yaml").write_text("pools:\n  v:\n    slots: 2\n")
    assert main(["pools", "--include-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "metadata database is not reachable or not migrated (OperationalError)" in err
    assert "airflow db migrate" in err
