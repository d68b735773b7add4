"""A district whose SIS exports a OneRoster bulk package runs a night like a flat-CSV district: the
sample students as a package (``include/districts/sample_isd_oneroster.yaml``) give the roster file
the same students give as CSV, through a real night (``dag.test()``, real SFTP and SMTP servers), and
the night's rows are ``users.csv`` rows. A package that cannot be a night (a delta export) fails
with its verdict and sends nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import INCLUDE
from devtools.oneroster import package_files, sample_students, write_oneroster

pytestmark = pytest.mark.e2e

DISTRICT = "sample_isd_oneroster"
NIGHT = dt.date(2026, 11, 20)
LOGICAL = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
EXPORT = INCLUDE / "inbound" / "sample_isd" / "roster_20261120.csv"
PACKAGE = Path(f"inbound/{DISTRICT}/oneroster_20261120.zip")
DELIVERED = Path(f"upload/{DISTRICT}/{DISTRICT}_roster_20261120.txt")


@pytest.fixture
def with_package(include_copy: Path) -> Path:
    """include/ with the sample package generated where sample_isd_oneroster.yaml expects it."""
    write_oneroster(include_copy / PACKAGE, sample_students())
    return include_copy


@pytest.fixture
def as_csv(tmp_path: Path) -> Path:
    """include/ with sample_isd_oneroster reading the sample CSV, with sample_isd.yaml's source: the
    same district as a flat export (the roster file names its district, so only the same id gives the
    same bytes)."""
    target = tmp_path / "include_csv"
    shutil.copytree(INCLUDE, target)
    flat = yaml.safe_load((target / "districts" / "sample_isd.yaml").read_text())
    path = target / "districts" / f"{DISTRICT}.yaml"
    data = yaml.safe_load(path.read_text())
    data["source"] = flat["source"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def _csv_night(include: Path, out: Path) -> Path:
    from roster.cli import main

    argv = ["run", "--include-dir", str(include), "--district", DISTRICT, "--input", str(EXPORT)]
    assert main([*argv, "--out", str(out), "--date", NIGHT.isoformat()]) == 0
    return out


def _users_rows(package: Path) -> list[dict[str, str]]:
    """users.csv's records by row number (header = row 1, so record n is row n + 1)."""
    with zipfile.ZipFile(package) as archive:
        text = archive.read("users.csv").decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _dag(root: Path):
    from roster.airflow.nightly import build_all

    return build_all(root=root)[f"roster_{DISTRICT}"]


def test_a_oneroster_night_delivers_the_csv_nights_roster(
    night_env: dict, with_package: Path, as_csv: Path, tmp_path: Path
) -> None:
    run = _dag(with_package).test(logical_date=LOGICAL)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", states
    assert states["upload_roster"] == "success"

    flat = _csv_night(as_csv, tmp_path / "csv")
    delivered = (night_env["sftp_root"] / DELIVERED).read_bytes()
    # OneRoster carries every field the layout writes (diagnosis and scores as metadata.* extensions).
    assert delivered == (flat / DELIVERED.name).read_bytes()
    assert delivered.count(b"\r\n") == 287  # header + 286 students

    run_dir = night_env["data_root"] / DISTRICT / NIGHT.isoformat()
    report = json.loads((run_dir / "qa_report.json").read_text())
    assert report["passed"] is True and report["rows_delivered"] == 286 and report["rows_rejected"] == 14
    assert report["rejects_by_reason"] == json.loads((flat / "qa_report.json").read_text())["rejects_by_reason"]
    assert report["notes"] == ["OneRoster 1.1 bulk package: 300 students among 300 users"]
    assert (run_dir / "export_oneroster_20261120.zip").read_bytes() == (with_package / PACKAGE).read_bytes()

    # Each reject's row is the users.csv row of that student, and the CSV night's row for it.
    rejects = (run_dir / "rejects.csv").read_bytes()
    assert rejects == (flat / "rejects.csv").read_bytes()
    users = _users_rows(with_package / PACKAGE)
    rows = list(csv.DictReader(io.StringIO(rejects.decode("utf-8"), newline="")))
    assert len(rows) == 14
    for reject in rows:
        user = users[int(reject["row_number"]) - 2]
        assert user["identifier"].strip() == reject["state_test_number"], reject


def _delta_package(path: Path) -> Path:
    files = package_files(sample_students())
    manifest = files["manifest.csv"].decode("utf-8")
    assert "file.users,bulk" in manifest
    files["manifest.csv"] = manifest.replace("file.users,bulk", "file.users,delta").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
    return path


def test_a_delta_package_fails_the_night_with_its_verdict_and_sends_nothing(
    night_env: dict, include_copy: Path
) -> None:
    _delta_package(include_copy / PACKAGE)

    run = _dag(include_copy).test(logical_date=LOGICAL)

    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert str(run.state) == "failed"
    assert str(tis["build_roster"].state) == "failed" and tis["build_roster"].try_number == 1
    assert str(tis["upload_roster"].state) == "upstream_failed"
    assert not any(p.is_file() for p in night_env["sftp_root"].rglob("*"))
    [email] = [m for m in night_env["smtp"].messages() if m["To"] == "data-oncall@example.org"]
    assert email["Subject"] == f"[roster FAILED] {DISTRICT} 2026-11-20: build_roster"
    body = email.get_body(("html",)).get_content()
    verdict = (
        "manifest.csv: row 6: file.users is delta: a roster night needs a bulk package (every student, "
        "every night); export OneRoster in bulk mode"
    )
    assert verdict in body
    assert not (night_env["data_root"] / DISTRICT / NIGHT.isoformat() / DELIVERED.name).exists()
