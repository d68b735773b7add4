"""Re-runs, backfills, late exports and the on-call path: whole nights on real SFTP and SMTP servers."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
import yaml

from conftest import INCLUDE

pytestmark = pytest.mark.e2e

EXPORT = INCLUDE / "inbound" / "sample_isd" / "roster_20261120.csv"
REMOTE_DIR = Path("upload/sample_isd")


def logical(day: dt.date, hour_utc: int = 8) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour_utc, 0, tzinfo=dt.UTC)


def _dag(root: Path):
    from roster.airflow.nightly import build_all

    return build_all(root=root)["roster_sample_isd"]


def _tis(run) -> dict:
    return {ti.task_id: ti for ti in run.get_task_instances()}


def _export_for(include: Path, day: dt.date) -> None:
    target = include / "inbound" / "sample_isd" / f"roster_{day:%Y%m%d}.csv"
    target.write_bytes(EXPORT.read_bytes())


def _configure(include: Path, **source: object) -> None:
    path = include / "districts" / "sample_isd.yaml"
    config = yaml.safe_load(path.read_text())
    config["source"].update(source)
    path.write_text(yaml.safe_dump(config))


def _run_dir(night_env: dict, day: dt.date) -> Path:
    return night_env["data_root"] / "sample_isd" / day.isoformat()


def _pointer(night_env: dict) -> dict:
    return json.loads((night_env["data_root"] / "sample_isd" / "snapshot" / "snapshot.json").read_text())


def _oncall(night_env: dict) -> list:
    return [m for m in night_env["smtp"].messages() if m["To"] == "data-oncall@example.org"]


def test_rerunning_a_night_reproduces_its_artifacts_and_delivered_bytes(night_env: dict) -> None:
    day = dt.date(2026, 11, 20)
    remote = night_env["sftp_root"] / REMOTE_DIR / "sample_isd_roster_20261120.txt"
    names = ["qa_report.json", "rejects.csv", "changes.csv", "sample_isd_roster_20261120.txt"]

    first = _dag(INCLUDE).test(logical_date=logical(day))
    assert str(first.state) == "success"
    delivered = remote.read_bytes()
    artifacts = {n: (_run_dir(night_env, day) / n).read_bytes() for n in names}

    second = _dag(INCLUDE).test(logical_date=logical(day))
    assert str(second.state) == "success"
    assert remote.read_bytes() == delivered
    assert {n: (_run_dir(night_env, day) / n).read_bytes() for n in names} == artifacts
    assert sorted(p.name for p in remote.parent.iterdir()) == [remote.name]


def test_an_older_night_after_a_newer_one_is_archived_not_sent_unless_forced(
    night_env: dict, include_copy: Path
) -> None:
    older, newer = dt.date(2026, 11, 20), dt.date(2026, 11, 21)
    _export_for(include_copy, newer)
    assert str(_dag(include_copy).test(logical_date=logical(newer)).state) == "success"

    run = _dag(include_copy).test(logical_date=logical(older))

    tis = _tis(run)
    assert str(run.state) == "success"
    assert str(tis["yield_to_newer_night"].state) == "success"
    assert str(tis["upload_roster"].state) == "skipped" and str(tis["notify_summary"].state) == "skipped"
    server = night_env["sftp_root"] / REMOTE_DIR
    assert sorted(p.name for p in server.iterdir()) == ["sample_isd_roster_20261121.txt"]
    report = json.loads((_run_dir(night_env, older) / "qa_report.json").read_text())
    assert report["superseded_by"] == "2026-11-21" and report["rows_delivered"] == 0
    assert (_run_dir(night_env, older) / "sample_isd_roster_20261120.txt").exists()  # archived
    assert _pointer(night_env)["date"] == "2026-11-21"

    forced = _dag(include_copy).test(logical_date=logical(older), run_conf={"force_upload": True})

    assert str(forced.state) == "success"
    assert str(_tis(forced)["upload_roster"].state) == "success"
    assert sorted(p.name for p in server.iterdir()) == [
        "sample_isd_roster_20261120.txt",
        "sample_isd_roster_20261121.txt",
    ]
    assert "superseded_by" not in json.loads((_run_dir(night_env, older) / "qa_report.json").read_text())
    assert _pointer(night_env)["date"] == "2026-11-20"  # the vendor now holds the forced night


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Fall back, 2026-11-01: 02:00 CST is 08:00 UTC.
        (dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC), dt.date(2026, 11, 1)),
        # Spring forward, 2026-03-08: 02:00 does not exist; the 03:00 CDT run is 08:00 UTC.
        (dt.datetime(2026, 3, 8, 8, 0, tzinfo=dt.UTC), dt.date(2026, 3, 8)),
        # The night after spring forward: 02:00 CDT is 07:00 UTC.
        (dt.datetime(2026, 3, 9, 7, 0, tzinfo=dt.UTC), dt.date(2026, 3, 9)),
        # A 23:30 local run is still that local day although UTC has moved on.
        (dt.datetime(2026, 11, 21, 5, 30, tzinfo=dt.UTC), dt.date(2026, 11, 20)),
    ],
)
def test_roster_date_is_the_local_date(moment: dt.datetime, expected: dt.date) -> None:
    from roster.airflow.context import local_date

    assert local_date(moment, "America/Chicago") == expected


def test_schedule_gives_one_run_per_local_day_across_dst() -> None:
    import pendulum
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    from roster.airflow.context import local_date
    from roster.airflow.nightly import build_all

    dag = build_all(root=INCLUDE)["roster_sample_isd"]
    timetable = coerce_to_core_timetable(dag.timetable)
    restriction = TimeRestriction(earliest=pendulum.datetime(2026, 3, 6, tz="UTC"), latest=None, catchup=True)
    days, last = [], None
    for _ in range(6):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        days.append(local_date(info.logical_date, "America/Chicago"))
        last = info.data_interval
    assert days == [dt.date(2026, 3, 6) + dt.timedelta(days=i) for i in range(6)]


def test_the_fall_back_night_delivers_that_dates_file(night_env: dict, include_copy: Path) -> None:
    """2026-11-01, the night clocks go back in Chicago: its run is at 08:00 UTC, its file is the 1st's."""
    day = dt.date(2026, 11, 1)
    _export_for(include_copy, day)
    run = _dag(include_copy).test(logical_date=logical(day))
    assert str(run.state) == "success"
    assert str(_tis(run)["upload_roster"].state) == "success"
    assert sorted(p.name for p in (night_env["sftp_root"] / REMOTE_DIR).iterdir()) == ["sample_isd_roster_20261101.txt"]
    assert json.loads((_run_dir(night_env, day) / "qa_report.json").read_text())["date"] == "2026-11-01"


def test_a_late_export_is_waited_for_in_the_triggerer_then_delivered(
    night_env: dict, include_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dag.test() runs a deferred task's trigger inline, as the triggerer would: the sensor defers,
    the trigger sees the export arrive, and the night goes on to deliver."""
    import threading

    from roster.airflow.triggers import ExportTrigger

    monkeypatch.setenv("ROSTER_SENSOR_POKE_SECONDS", "1")
    day = dt.date(2026, 11, 23)
    ran: list[str] = []
    run_trigger = ExportTrigger.run

    late = threading.Timer(2.0, _export_for, (include_copy, day))

    def spied(self):
        # The export arrives only once the sensor has deferred: the trigger has to see it come.
        ran.append(self.source)
        late.start()
        return run_trigger(self)

    monkeypatch.setattr(ExportTrigger, "run", spied)
    run = _dag(include_copy).test(logical_date=logical(day))
    late.cancel()
    assert ran == [str(include_copy / "inbound" / "sample_isd" / "roster_20261123.csv")]
    assert str(run.state) == "success"
    assert str(_tis(run)["upload_roster"].state) == "success"
    assert sorted(p.name for p in (night_env["sftp_root"] / REMOTE_DIR).iterdir()) == ["sample_isd_roster_20261123.txt"]


@pytest.mark.parametrize("wait_mode", ["deferrable", "reschedule"])
def test_a_missing_export_fails_after_wait_for_and_tells_oncall_the_path(
    night_env: dict, include_copy: Path, monkeypatch: pytest.MonkeyPatch, wait_mode: str
) -> None:
    _configure(include_copy, wait_for="3s", wait_mode=wait_mode)
    monkeypatch.setenv("ROSTER_SENSOR_POKE_SECONDS", "1")
    day = dt.date(2026, 11, 22)
    expected = include_copy / "inbound" / "sample_isd" / "roster_20261122.csv"

    started = time.monotonic()
    run = _dag(include_copy).test(logical_date=logical(day))
    waited = time.monotonic() - started

    tis = _tis(run)
    assert str(run.state) == "failed"
    assert str(tis["wait_for_export"].state) == "failed"
    assert tis["wait_for_export"].try_number == 1
    assert str(tis["extract_export"].state) == "upstream_failed"
    assert 3 <= waited < 90
    [email] = _oncall(night_env)
    assert email["Subject"] == "[roster FAILED] sample_isd 2026-11-22: wait_for_export"
    body = email.get_body(("html",)).get_content()
    assert f"did not arrive within 3s: expected {expected}" in body
    assert "Export late or missing" in body
    assert not any(night_env["sftp_root"].rglob("*.txt"))


def _other_host_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    return public.decode()


def _other_client_key(tmp_path: Path) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = tmp_path / "stranger_ed25519"
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)
    return str(path)


@pytest.mark.parametrize("fault", ["host_key", "credentials"])
def test_host_key_and_authentication_failures_fail_at_once(
    fault: str, night_env: dict, servers: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = json.loads(json.dumps(servers["sftp_conn"]))
    if fault == "host_key":
        connection["extra"]["host_key"] = _other_host_key()
    else:
        connection["extra"]["key_file"] = _other_client_key(tmp_path)
    monkeypatch.setenv("AIRFLOW_CONN_RETHINK_SFTP", json.dumps(connection))

    run = _dag(INCLUDE).test(logical_date=logical(dt.date(2026, 11, 20)))

    upload = _tis(run)["upload_roster"]
    assert str(run.state) == "failed"
    assert str(upload.state) == "failed"
    assert upload.max_tries >= 1 and upload.try_number == 1  # retries were allowed, none was used
    assert not any(night_env["sftp_root"].rglob("*"))  # nothing written, not even a temporary file
    assert not (night_env["data_root"] / "sample_isd" / "snapshot" / "snapshot.json").exists()
    [email] = _oncall(night_env)
    body = email.get_body(("html",)).get_content()
    assert ("host key that does not match" if fault == "host_key" else "refused the credentials") in body
