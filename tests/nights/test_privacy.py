"""Privacy (FERPA): a student's name or date of birth appears only in the roster itself.

Whole nights through ``dag.test()`` on the real SFTP and SMTP servers (a passing night with the export
fetched over SFTP, a held night, a QA-failing night), then every place the pipeline writes to is
searched for the export's names (length >= 5) and dates of birth:

* every log line: the captured output of ``dag.test()`` (the tasks' logs) and Python logging records,
  and any file under ``AIRFLOW_HOME/logs``;
* every email at the SMTP sink, headers, bodies and decoded attachments;
* every file under ``ROSTER_DATA_ROOT`` except the allowed copies: the delivered roster file, the
  run's copy of the export (``export_*.csv``) and the snapshot (``snapshot-*.parquet``, the delivered
  roster in columnar form, kept as the baseline of the next night's diff);
* every XCom value and rendered template field in Airflow's database for those runs;
* every file on the SFTP server other than the delivered rosters.

Run artifacts are owner-only: files 0600, folders 0700. The retention task (``apply_retention``)
deletes run folders older than ``ROSTER_RETENTION_DAYS`` days (default 30) and says which.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import html
import json
import os
import stat
import unicodedata
from pathlib import Path

import pytest
from airflow.sdk.execution_time.context import set_current_context

from conftest import INCLUDE, ObjectStore, configure_district

pytestmark = pytest.mark.e2e

DISTRICT = "sample_isd"
DAG_ID = f"roster_{DISTRICT}"
FIRST, SECOND, THIRD = dt.date(2026, 11, 20), dt.date(2026, 11, 21), dt.date(2026, 11, 22)
EXPORT = INCLUDE / "inbound" / DISTRICT / "roster_20261120.csv"
SFTP_EXPORTS = "exports/sample_isd"


def logical(day: dt.date) -> dt.datetime:
    """02:00 America/Chicago (UTC-6 in November) on ``day``."""
    return dt.datetime(day.year, day.month, day.day, 8, 0, tzinfo=dt.UTC)


def _dag(root: Path):
    from roster.airflow.nightly import build_all

    return build_all(root=root)[DAG_ID]


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _configure(include: Path, **changes: object) -> None:
    configure_district(include, DISTRICT, **changes)


#: The nights run in a child process, so that everything the process writes (the tasks' logs through
#: Airflow's structlog, warnings, tracebacks) is captured whole, whatever logging set-up earlier tests
#: in this session left behind. It uses the same Airflow database, data root and servers.
NIGHTS_SCRIPT = r"""
import datetime as dt, json, sys, threading
from pathlib import Path

import yaml

from roster.airflow.nightly import build_all

include, plan = Path(sys.argv[1]), json.loads(sys.argv[2])


def sweep(stop):
    # The scheduler's timeout sweep for Human-in-the-loop tasks, which dag.test() does not run.
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    runner = SchedulerJobRunner.__new__(SchedulerJobRunner)
    while not stop.is_set():
        runner.check_awaiting_input_timeouts()
        stop.wait(0.5)


runs = []
for night in plan:
    path = include / "districts" / "sample_isd.yaml"
    config = yaml.safe_load(path.read_text())
    for dotted, value in night.get("configure", {}).items():
        node = config
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(yaml.safe_dump(config))
    stop = threading.Event()
    thread = threading.Thread(target=sweep, args=(stop,), daemon=True)
    thread.start()
    try:
        day = dt.date.fromisoformat(night["day"])
        run = build_all(root=include)["roster_sample_isd"].test(
            logical_date=dt.datetime(day.year, day.month, day.day, 8, 0, tzinfo=dt.timezone.utc)
        )
    finally:
        stop.set()
        thread.join(timeout=10)
    runs.append({"run_id": run.run_id, "state": str(run.state), "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()}})
print("NIGHTS-RESULT " + json.dumps(runs))
"""


def run_nights(include: Path, plan: list[dict]) -> tuple[list[dict], str]:
    """Run the nights of ``plan`` in a child process; their outcomes and everything the process printed."""
    import subprocess
    import sys

    from conftest import REPO

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "plugins"), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run(
        [sys.executable, "-c", NIGHTS_SCRIPT, str(include), json.dumps(plan)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,  # the assertion below shows the output's tail when the nights fail
    )
    output = result.stdout + "\n" + result.stderr
    assert result.returncode == 0, output[-5000:]
    line = next(out for out in result.stdout.splitlines() if out.startswith("NIGHTS-RESULT "))
    return json.loads(line.removeprefix("NIGHTS-RESULT ")), output


# What must not leak -------------------------------------------------------------------------------


def private_values(export: Path) -> set[str]:
    """Distinctive names (length >= 5) and every date of birth in the export, in the forms they could take."""
    values: set[str] = set()
    with export.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            dob = row["DOB"].strip()
            if len(dob) >= 8:
                values.add(dob)
                with contextlib.suppress(ValueError):
                    values.add(dt.datetime.strptime(dob, "%m/%d/%Y").date().isoformat())  # as a parsed date would print
            for field in ("FIRST_NAME", "MIDDLE_NAME", "LAST_NAME"):
                for piece in row[field].split("|"):
                    part = piece.strip()
                    if len(part) >= 5:
                        values.update(
                            {
                                part,
                                unicodedata.normalize("NFC", part),
                                unicodedata.normalize("NFD", part),
                                html.escape(part),
                            }
                        )
    return values


def leaks(text: str, secrets: set[str]) -> list[str]:
    return sorted(s for s in secrets if s in text)


def email_texts(messages) -> dict[str, str]:
    """Each message whole (raw) and each of its parts decoded (bodies, attachments)."""
    texts = {}
    for number, message in enumerate(messages, start=1):
        texts[f"email {number} ({message['Subject']}) raw"] = message.as_string()
        for index, part in enumerate(message.walk()):
            if part.is_multipart():
                continue
            content = part.get_content()
            if isinstance(content, bytes):
                content = content.decode("utf-8", errors="replace")
            texts[
                f"email {number} ({message['Subject']}) part {index} {part.get_filename() or part.get_content_type()}"
            ] = content
    return texts


def allowed_copy(path: Path) -> bool:
    """The delivered roster, the run's copy of the export, and the snapshot (the roster as Parquet)."""
    name = path.name
    return (
        (name.startswith(f"{DISTRICT}_roster_") and name.endswith(".txt"))
        or (name.startswith("export_") and name.endswith(".csv"))
        or (path.parent.name == "snapshot" and name.startswith("snapshot-") and name.endswith(".parquet"))
    )


def artifact_texts(data_root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(data_root)): path.read_bytes().decode("utf-8", errors="replace")
        for path in sorted(data_root.rglob("*"))
        if path.is_file() and not allowed_copy(path)
    }


def database_texts(run_ids: list[str]) -> dict[str, str]:
    """Every XCom value and rendered template field of the runs, from Airflow's metadata database."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    texts = {}
    with create_session() as session:
        xcoms = session.scalars(
            select(XComModel).where(XComModel.dag_id == DAG_ID, XComModel.run_id.in_(run_ids))
        ).all()
        for row in xcoms:
            texts[f"xcom {row.run_id} {row.task_id} {row.key}"] = json.dumps(row.value, ensure_ascii=False, default=str)
        rendered = session.scalars(
            select(RenderedTaskInstanceFields).where(
                RenderedTaskInstanceFields.dag_id == DAG_ID, RenderedTaskInstanceFields.run_id.in_(run_ids)
            )
        ).all()
        for row in rendered:
            texts[f"rendered fields {row.run_id} {row.task_id}"] = json.dumps(
                row.rendered_fields, ensure_ascii=False, default=str
            )
    assert any(key.startswith("xcom ") for key in texts), "no XCom found for the runs: the scan would prove nothing"
    return texts


def xcom_value(run_id: str, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == DAG_ID,
                XComModel.run_id == run_id,
                XComModel.task_id == task_id,
                XComModel.key == "return_value",
            )
        ).one()
        value = row.value
    return json.loads(value) if isinstance(value, str) else value


def assert_owner_only(data_root: Path) -> None:
    district = data_root / DISTRICT
    folders = [district, *(p for p in district.rglob("*") if p.is_dir())]
    files = [p for p in district.rglob("*") if p.is_file()]
    assert files
    wrong = {
        str(p.relative_to(data_root)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in folders
        if stat.S_IMODE(p.stat().st_mode) != 0o700
    }
    wrong |= {
        str(p.relative_to(data_root)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in files
        if stat.S_IMODE(p.stat().st_mode) != 0o600
    }
    assert wrong == {}, "run artifacts must be owner-only (folders 0700, files 0600)"


def _stage_exports(sftp_root: Path, include: Path) -> None:
    """The three nights' exports on the district's SFTP server, so extract's fetch is covered too."""
    exports = sftp_root / SFTP_EXPORTS
    exports.mkdir(parents=True)
    (exports / "roster_20261120.csv").write_bytes(EXPORT.read_bytes())
    lines = EXPORT.read_bytes().split(b"\r\n")
    (exports / "roster_20261121.csv").write_bytes(b"\r\n".join(lines[:151]) + b"\r\n")  # half the students: held
    (exports / "roster_20261122.csv").write_bytes(EXPORT.read_bytes())
    _configure(
        include,
        source__path=f"sftp://rethink_sftp/{SFTP_EXPORTS}/roster_{{date:%Y%m%d}}.csv",
        qa__hold_timeout="2s",
    )


def _seed_run_folders(data_root: Path) -> Path:
    """Old run folders for retention: one past 30 days, one exactly 30 days old; and folders it must keep."""
    district_dir = data_root / DISTRICT
    for name in ("2026-10-20", "2026-10-21"):
        (district_dir / name).mkdir(parents=True)
        (district_dir / name / "export_roster_old.csv").write_bytes(EXPORT.read_bytes())
        (district_dir / name / "export_roster_old.csv").chmod(0o600)
    for name in ("go-live/manual__2026-09-01T10-00-00-00-00", "notes"):
        (district_dir / name).mkdir(parents=True)
        (district_dir / name / "kept.txt").write_text("keep me")
    for folder in district_dir.rglob("*"):
        folder.chmod(0o700 if folder.is_dir() else 0o600)
    district_dir.chmod(0o700)
    return district_dir


# The nights ---------------------------------------------------------------------------------------------


def test_no_name_or_birth_date_outside_the_roster_across_passing_held_and_failing_nights(
    night_env: dict, include_copy: Path
) -> None:
    data_root: Path = night_env["data_root"]
    sftp_root: Path = night_env["sftp_root"]
    secrets = private_values(EXPORT)
    assert "Martínez" in secrets and "01/05/2011" in secrets

    _stage_exports(sftp_root, include_copy)
    district_dir = _seed_run_folders(data_root)

    runs, output = run_nights(
        include_copy,
        [
            {"day": FIRST.isoformat()},
            {"day": SECOND.isoformat()},
            {"day": THIRD.isoformat(), "configure": {"qa__max_reject_rate": 0.01}},
        ],
    )
    passing, held, failing = runs
    assert passing["state"] == "success", passing
    assert held["state"] == "failed" and held["tasks"]["notify_hold"] == "success", held
    assert failing["state"] == "failed" and failing["tasks"]["notify_qa_failure"] == "failed", failing
    run_ids = [run["run_id"] for run in runs]

    # The roster and the allowed copies do hold them: the scan below would find them anywhere else.
    delivered = (sftp_root / "upload" / DISTRICT / "sample_isd_roster_20261120.txt").read_text(encoding="utf-8")
    assert leaks(delivered, secrets)
    assert leaks(
        (data_root / DISTRICT / "2026-11-20" / "export_roster_20261120.csv").read_text(encoding="utf-8"), secrets
    )

    # The tasks' logs are in the output: each night's verdict and the failures' tracebacks.
    assert "QA passed: 14 of 300 rows rejected" in output and "QA failed, nothing sent" in output
    texts = {"the nights' output (stdout and stderr)": output}
    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    texts |= (
        {str(p): p.read_text(encoding="utf-8", errors="replace") for p in logs.rglob("*") if p.is_file()}
        if logs.is_dir()
        else {}
    )
    messages = night_env["smtp"].messages()
    subjects = sorted(m["Subject"] for m in messages)
    assert any("HELD" in s for s in subjects) and any("QA failed" in s for s in subjects), subjects
    assert any("2026-11-20: delivered 286 students, 14 rows rejected" in s for s in subjects), subjects  # the summary
    texts |= email_texts(messages)
    texts |= artifact_texts(data_root)
    assert {
        "sample_isd/2026-11-20/qa_report.json",
        "sample_isd/2026-11-21/changes.csv",
        "sample_isd/2026-11-22/rejects.csv",
    } <= set(texts)
    texts |= database_texts(run_ids)
    server = sftp_root / "upload"
    texts |= {
        str(p.relative_to(sftp_root)): p.read_text(encoding="utf-8", errors="replace")
        for p in server.rglob("*")
        if p.is_file() and not p.name.startswith(f"{DISTRICT}_roster_")
    }

    leaked = {where: found for where, text in texts.items() if (found := leaks(text, secrets))}
    assert leaked == {}

    assert_owner_only(data_root)
    export_copy = data_root / DISTRICT / "2026-11-20" / "export_roster_20261120.csv"
    assert stat.S_IMODE(export_copy.stat().st_mode) == 0o600  # fetched over SFTP, owner-only from the start

    # Retention ran at the start of each night: a run folder goes once it is more than 30 days old
    # (2026-10-21 is exactly 30 days old on 2026-11-20 and stays that night); other folders stay.
    assert xcom_value(passing["run_id"], "apply_retention") == {"removed": ["2026-10-20"], "retention_days": 30}
    assert "retention: removed 1 run folder(s) of sample_isd older than 30 days on 2026-11-20: 2026-10-20" in output
    assert xcom_value(held["run_id"], "apply_retention") == {"removed": ["2026-10-21"], "retention_days": 30}
    assert xcom_value(failing["run_id"], "apply_retention") == {"removed": [], "retention_days": 30}
    assert sorted(p.name for p in district_dir.iterdir()) == [
        "2026-11-20",
        "2026-11-21",
        "2026-11-22",
        "go-live",
        "notes",
        "snapshot",
    ]
    assert (district_dir / "go-live" / "manual__2026-09-01T10-00-00-00-00" / "kept.txt").exists()


# Retention --------------------------------------------------------------------------------------------


def test_expired_keeps_exactly_the_configured_days_and_only_run_folders() -> None:
    from roster.night.retention import expired

    names = [
        "2026-10-19",
        "2026-10-20",
        "2026-10-21",
        "2026-11-20",
        "snapshot",
        "go-live",
        "2026-13-01",
        "2026-10-1",
        "notes",
        "2026-10-20.bak",
    ]
    assert expired(names, dt.date(2026, 11, 20), 30) == ["2026-10-19", "2026-10-20"]
    assert expired(names, dt.date(2026, 11, 20), 1) == ["2026-10-19", "2026-10-20", "2026-10-21"]
    assert expired(names, dt.date(2026, 11, 21), 1) == ["2026-10-19", "2026-10-20", "2026-10-21"]
    assert expired(names, dt.date(2026, 11, 22), 1) == ["2026-10-19", "2026-10-20", "2026-10-21", "2026-11-20"]
    assert expired([], dt.date(2026, 11, 20), 30) == []
    with pytest.raises(ValueError, match="keep_days must be at least 1"):
        expired(names, dt.date(2026, 11, 20), 0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 30),
        ("", 30),
        ("7", 7),
        (" 90 ", 90),
        ("0", "at least 1 day"),
        ("-3", "at least 1 day"),
        ("30d", "not a whole number"),
        ("x", "not a whole number"),
    ],
)
def test_retention_days_from_the_environment(value, expected, monkeypatch) -> None:
    from roster import settings
    from roster.errors import ConfigError

    if value is None:
        monkeypatch.delenv("ROSTER_RETENTION_DAYS", raising=False)
    else:
        monkeypatch.setenv("ROSTER_RETENTION_DAYS", value)
    if isinstance(expected, int):
        assert settings.retention_days() == expected
    else:
        with pytest.raises(ConfigError, match=expected) as info:
            settings.retention_days()
        assert "ROSTER_RETENTION_DAYS" in str(info.value)


def _apply_retention_on(day: dt.date) -> dict:
    """The ``apply_retention`` task for the night ``day`` (its logical date, 08:00 UTC, is ``day`` in Chicago)."""
    from domain_fixtures import make_district
    from roster.airflow import tasks

    with set_current_context({"logical_date": dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC)}):  # type: ignore[arg-type]
        return tasks.apply_retention(make_district())


def _make_run_folders(base: Path, names: list[str]) -> None:
    for name in names:
        (base / name).mkdir(parents=True)
        (base / name / "qa_report.json").write_text("{}")


def test_apply_retention_on_a_local_data_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("ROSTER_RETENTION_DAYS", "7")
    base = tmp_path / "data" / DISTRICT
    _make_run_folders(base, ["2026-11-01", "2026-11-12", "2026-11-13", "2026-11-20", "snapshot", "go-live"])
    caplog.set_level("INFO", logger="roster")

    result = _apply_retention_on(dt.date(2026, 11, 20))

    assert result == {"removed": ["2026-11-01", "2026-11-12"], "retention_days": 7}
    assert sorted(p.name for p in base.iterdir()) == ["2026-11-13", "2026-11-20", "go-live", "snapshot"]
    assert (
        "retention: removed 2 run folder(s) of sample_isd older than 7 days on 2026-11-20: 2026-11-01, 2026-11-12"
        in caplog.text
    )
    # A district with no data yet: nothing to do, nothing created.
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(tmp_path / "empty"))
    assert _apply_retention_on(dt.date(2026, 11, 20)) == {"removed": [], "retention_days": 7}
    assert not (tmp_path / "empty").exists()


def test_apply_retention_on_an_object_store(object_store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    fs = object_store.fs
    for name in ("2026-10-01", "2026-11-19", "snapshot"):
        fs.pipe(object_store.path(f"{DISTRICT}/{name}/qa_report.json"), b"{}")
    monkeypatch.setenv("ROSTER_DATA_ROOT", object_store.root)
    monkeypatch.delenv("ROSTER_RETENTION_DAYS", raising=False)

    result = _apply_retention_on(dt.date(2026, 11, 20))

    assert result == {"removed": ["2026-10-01"], "retention_days": 30}
    fs.invalidate_cache()
    remaining = sorted(Path(p).name for p in fs.ls(object_store.path(DISTRICT), detail=False))
    assert remaining == ["2026-11-19", "snapshot"]


def test_a_bad_retention_setting_fails_the_task_but_not_the_delivery(
    night_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retention sits beside the night's path: its failure is visible (the run fails, on-call is told)
    and the roster still goes out."""
    monkeypatch.setenv("ROSTER_RETENTION_DAYS", "thirty")

    run = _dag(INCLUDE).test(logical_date=logical(FIRST))

    states = _states(run)
    assert str(run.state) == "failed"
    assert states["apply_retention"] == "failed"
    assert states["upload_roster"] == "success" and states["notify_summary"] == "success"
    assert (night_env["sftp_root"] / "upload" / DISTRICT / "sample_isd_roster_20261120.txt").exists()
    [email] = [m for m in night_env["smtp"].messages() if m["To"] == "data-oncall@example.org"]
    assert "apply_retention" in email["Subject"]
    assert "ROSTER_RETENTION_DAYS=&#39;thirty&#39; is not a whole number" in email.get_body(("html",)).get_content()


# Error messages ------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_unreadable_export_error_never_quotes_a_student_row(tmp_path: Path) -> None:
    """A cp1252 name (``Jos\\xe9``) in a row with an unquoted comma (``Smith, Jr.``): the error must name
    the line, not print it."""
    from domain_fixtures import HEADER
    from roster.config import load_district
    from roster.errors import InputError
    from roster.io.export import read_export

    district = load_district(INCLUDE / "districts" / f"{DISTRICT}.yaml")
    export = tmp_path / "export.csv"
    export.write_bytes(
        (",".join(HEADER) + "\r\n").encode()
        + b"0001234,L1,Maria,,Gonzalez,03/14/2015,F,05,102,,A,250,\r\n"
        + b"0001236,L3,Jos\xe9,,Smith, Jr.,07/04/2012,M,05,102,,A,250,\r\n"
    )
    with pytest.raises(InputError) as info:
        read_export(export, district.source)
    message = str(info.value)
    assert "line 3" in message
    assert "Smith" not in message and "07/04/2012" not in message and "Jos" not in message
