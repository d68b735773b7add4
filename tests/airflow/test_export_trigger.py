"""The deferred wait for tonight's export: the trigger's run() on each kind of source (a real local
folder, fsspec's memory and local file systems, the real SFTP test server), and the sensor's side."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import json
from pathlib import Path
from typing import Any

import fsspec
import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from conftest import INCLUDE
from roster.airflow.triggers import ExportTrigger
from roster.config import load_district
from roster.errors import TransferError

POKE = 0.05


def _trigger(source: str, *, wait: float = 5.0, package: bool = False) -> ExportTrigger:
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)
    return ExportTrigger(source=source, package=package, deadline=deadline.isoformat(), poke_interval=POKE)


async def _first_event(trigger: ExportTrigger, arrive=None, after: float = 0.3) -> tuple[dict[str, Any], float]:
    """The trigger's one event and how long it took; ``arrive()`` runs ``after`` seconds in."""

    async def later() -> None:
        await asyncio.sleep(after)
        arrive()

    loop = asyncio.get_running_loop()
    started = loop.time()
    pending = asyncio.create_task(later()) if arrive else None
    events = [event async for event in trigger.run()]
    if pending:
        await pending
    assert len(events) == 1
    return events[0].payload, loop.time() - started


def test_the_trigger_serializes_to_its_classpath_and_only_where_and_when() -> None:
    trigger = _trigger("/srv/inbound/roster_20261120.csv", package=True)
    classpath, kwargs = trigger.serialize()
    assert set(kwargs) == {"source", "package", "deadline", "poke_interval"}
    json.dumps(kwargs)  # plain values only: nothing of the export travels to the triggerer
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert isinstance(rebuilt, ExportTrigger)
    assert rebuilt.serialize() == (classpath, kwargs)


def test_a_local_export_that_arrives_later_fires_found(tmp_path: Path) -> None:
    export = tmp_path / "roster_20261120.csv"
    payload, took = asyncio.run(_first_event(_trigger(str(export)), lambda: export.write_text("x\n")))
    assert payload == {"status": "found", "source": str(export)}
    assert took >= 0.3


def test_a_package_folder_counts_only_once_its_manifest_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "roster_20261120"
    folder.mkdir()
    (folder / "users.csv").write_text("sourcedId\n")
    payload, took = asyncio.run(
        _first_event(_trigger(str(folder), package=True), lambda: (folder / "manifest.csv").write_text("x\n"))
    )
    assert payload["status"] == "found"
    assert took >= 0.3
    # Without ``package`` a folder is not an export, manifest or not.
    payload, _ = asyncio.run(_first_event(_trigger(str(folder), wait=0.3)))
    assert payload["status"] == "timeout"


def test_a_local_export_that_never_comes_times_out_at_the_deadline(tmp_path: Path) -> None:
    payload, took = asyncio.run(_first_event(_trigger(str(tmp_path / "missing.csv"), wait=0.5)))
    assert payload == {"status": "timeout", "source": str(tmp_path / "missing.csv")}
    assert took >= 0.5  # not before the deadline; the run's own timeout would catch a trigger that never ends


@pytest.mark.parametrize("package", [False, True])
def test_an_fsspec_memory_export_that_arrives_later_fires_found(package: bool) -> None:
    fs = fsspec.filesystem("memory")
    base = f"/roster-trigger-{package}"
    fs.rm(base, recursive=True) if fs.exists(base) else None
    url = f"memory://{base}/roster_20261120" + ("" if package else ".csv")
    written = f"{base}/roster_20261120/manifest.csv" if package else f"{base}/roster_20261120.csv"
    payload, took = asyncio.run(_first_event(_trigger(url, package=package), lambda: fs.pipe(written, b"x\n")))
    assert payload == {"status": "found", "source": url}
    assert took >= 0.3


def test_an_fsspec_file_url_times_out_then_finds_the_export(tmp_path: Path) -> None:
    export = tmp_path / "roster_20261120.csv"
    url = export.as_uri()
    payload, _ = asyncio.run(_first_event(_trigger(url, wait=0.3)))
    assert payload["status"] == "timeout"
    payload, _ = asyncio.run(_first_event(_trigger(url), lambda: export.write_text("x\n")))
    assert payload["status"] == "found"


def test_an_unknown_fsspec_scheme_is_a_fatal_error_event() -> None:
    payload, _ = asyncio.run(_first_event(_trigger("nosuchscheme://bucket/roster.csv")))
    assert payload["status"] == "error" and payload["kind"] == "fatal"
    assert payload["message"].startswith("nosuchscheme://bucket/roster.csv: cannot be read")


@pytest.fixture
def sftp_conn(servers: dict, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRFLOW_CONN_DISTRICT_DROP", json.dumps(servers["sftp_conn"]))
    inbound = servers["sftp"].root / "trigger-inbound"
    inbound.mkdir(exist_ok=True)
    for old in inbound.iterdir():
        old.unlink()
    return inbound


def test_an_sftp_export_that_arrives_later_fires_found(sftp_conn: Path) -> None:
    url = "sftp://district_drop/trigger-inbound/roster_20261120.csv"
    export = sftp_conn / "roster_20261120.csv"
    payload, took = asyncio.run(_first_event(_trigger(url), lambda: export.write_text("x\n"), after=1.0))
    assert payload == {"status": "found", "source": url}
    assert took >= 1.0


def test_an_sftp_export_that_never_comes_times_out(sftp_conn: Path) -> None:
    url = "sftp://district_drop/trigger-inbound/roster_20261121.csv"
    payload, took = asyncio.run(_first_event(_trigger(url, wait=1.0)))
    assert payload == {"status": "timeout", "source": url}
    assert took >= 1.0


def test_an_sftp_connection_without_a_pinned_host_key_is_refused_before_connecting(
    servers: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = {
        **servers["sftp_conn"],
        "extra": {k: v for k, v in servers["sftp_conn"]["extra"].items() if k != "host_key"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_UNPINNED_DROP", json.dumps(conn))
    payload, _ = asyncio.run(_first_event(_trigger("sftp://unpinned_drop/x.csv")))
    assert payload["status"] == "error" and payload["kind"] == "fatal"
    assert "has no pinned host_key" in payload["message"]


def test_an_sftp_server_with_another_host_key_is_a_fatal_error(servers: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    conn = {**servers["sftp_conn"], "extra": {**servers["sftp_conn"]["extra"], "host_key": other}}
    monkeypatch.setenv("AIRFLOW_CONN_IMPOSTOR_DROP", json.dumps(conn))
    payload, _ = asyncio.run(_first_event(_trigger("sftp://impostor_drop/x.csv")))
    assert payload["status"] == "error" and payload["kind"] == "fatal"
    assert "impostor_drop" in payload["message"] and "HostKeyNotVerifiable" in payload["message"]


# The sensor's side --------------------------------------------------------------------------------


def _sensor(root: Path, **source: object):
    from roster.airflow.sensors import ExportSensor

    district = load_district(root / "districts" / "sample_isd.yaml")
    district = district.model_copy(update={"source": district.source.model_copy(update=source)})
    return ExportSensor(task_id="wait_for_export", district=district, root=root, poke_interval=7)


CONTEXT = {"logical_date": dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)}


def test_the_deferrable_sensor_defers_when_the_export_is_absent(include_copy: Path) -> None:
    sensor = _sensor(include_copy, wait_for=dt.timedelta(minutes=15))
    before = dt.datetime.now(dt.UTC)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(CONTEXT)
    trigger = deferred.value.trigger
    assert isinstance(trigger, ExportTrigger)
    assert trigger.source == str(include_copy / "inbound" / "sample_isd" / "roster_20261122.csv")
    assert trigger.poke_interval == 7
    deadline = dt.datetime.fromisoformat(trigger.deadline)
    assert before + dt.timedelta(minutes=15) <= deadline <= dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout > dt.timedelta(minutes=15)


def test_the_deferrable_sensor_returns_at_once_when_the_export_is_there(include_copy: Path) -> None:
    (include_copy / "inbound" / "sample_isd" / "roster_20261122.csv").write_text("x\n")
    assert _sensor(include_copy).execute(CONTEXT) is None


def test_a_timeout_event_and_a_backstop_timeout_fail_the_night_with_todays_message(include_copy: Path) -> None:
    from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason

    sensor = _sensor(include_copy, wait_for=dt.timedelta(hours=3))
    expected = include_copy / "inbound" / "sample_isd" / "roster_20261122.csv"
    message = (
        f"tonight's export did not arrive within 3h: expected {expected} (roster date 2026-11-22). "
        "Ask the district to deliver it, then clear this task."
    )
    with pytest.raises(AirflowFailException) as late:
        sensor.execute_complete(CONTEXT, {"status": "timeout", "source": str(expected)})
    assert str(late.value) == message
    # Airflow's own trigger timeout (a triggerer that was down past the deadline) says the same.
    with pytest.raises(AirflowFailException) as backstop:
        sensor.resume_execution(TRIGGER_FAIL_REPR, {"error": TriggerFailureReason.TRIGGER_TIMEOUT}, CONTEXT)
    assert str(backstop.value) == message


def test_an_error_event_fails_as_the_poke_would(include_copy: Path) -> None:
    from roster.airflow.hooks.sftp import NetworkError

    sensor = _sensor(include_copy)
    with pytest.raises(TransferError, match="refused"):
        sensor.execute_complete(CONTEXT, {"status": "error", "kind": "fatal", "message": "refused"})
    with pytest.raises(NetworkError, match="cut"):
        sensor.execute_complete(CONTEXT, {"status": "error", "kind": "network", "message": "cut"})


def test_reschedule_mode_stays_available_and_never_defers(include_copy: Path) -> None:
    from airflow.sdk.exceptions import AirflowRescheduleException

    sensor = _sensor(include_copy, wait_mode="reschedule")
    assert sensor.mode == "reschedule"
    assert not INCLUDE.joinpath("inbound", "sample_isd", "roster_20261122.csv").exists()
    with pytest.raises(AirflowRescheduleException):
        sensor.execute({**CONTEXT, "ti": _FirstTry(), "task_reschedule_count": 0})


class _FirstTry:
    """The one attribute of a task instance a reschedule-mode sensor's first poke reads."""

    try_number = 1
    start_date = dt.datetime.now(dt.UTC)

    def get_first_reschedule_date(self, context: Any) -> None:
        return None
