"""Remote cross-match tables (``crossmatch:`` an fsspec URL or ``sftp://<conn_id>/<dir>``): the key's
forms, the copy a night reads, errors that name the table's URL and line, and each table's SHA-256."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import fsspec
import pytest

from domain_fixtures import INCLUDE, SAMPLE_EXPORT, copy_include, district_data, make_district, set_key, write_district
from roster.cli import main
from roster.config import load_district
from roster.config.crossmatch import load_crossmatch
from roster.config.crossmatch_source import copy_name
from roster.errors import ConfigError
from roster.io.crossmatch_copy import copy_tables
from roster.night.qa import QaReport

TABLES = INCLUDE / "crossmatch" / "sample_isd"


@pytest.fixture
def remote() -> str:
    """A fresh folder in fsspec's in-memory store holding the sample district's three tables."""
    url = f"memory://crossmatch-{uuid.uuid4().hex[:8]}/sample_isd"
    memory = fsspec.filesystem("memory")
    for table in ("grades", "campuses", "diagnoses"):
        memory.pipe(f"{url}/{table}.csv", (TABLES / f"{table}.csv").read_bytes())
    return url


def _put(url: str, table: str, data: bytes) -> None:
    fsspec.filesystem("memory").pipe(f"{url}/{table}.csv", data)


@pytest.mark.parametrize(
    "value",
    [
        "crossmatch/sample_isd",
        "/abs/tables",
        "s3://bucket/dir",
        "memory://dir",
        "file:///abs/dir",
        "sftp://drop/roster/cm",
    ],
)
def test_the_three_forms_are_accepted(value: str) -> None:
    assert make_district({"crossmatch": value}).crossmatch == value


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("sftp://drop", "is not of the form sftp://<conn_id>/<dir>"),
        ("sftp:///roster/cm", "is not of the form sftp://<conn_id>/<dir>"),
        ("sftp://drop//roster", "is not of the form sftp://<conn_id>/<dir>"),
        ("sftp://drop/", "is not of the form sftp://<conn_id>/<dir>"),
        ("s3://", "names no folder after s3://"),
        ("://nowhere", "is neither a folder nor a URL"),
    ],
)
def test_a_malformed_url_names_the_key(tmp_path: Path, value: str, says: str) -> None:
    include = copy_include(tmp_path)
    path = write_district(include, set_key(district_data(), "crossmatch", value))
    with pytest.raises(ConfigError) as info:
        load_district(path)
    assert str(info.value).startswith(f"{path}: key 'crossmatch': ")
    assert says in str(info.value)


def test_fsspec_tables_are_copied_and_read_with_their_versions(remote: str, tmp_path: Path) -> None:
    district = make_district({"crossmatch": remote})
    assert copy_tables(district, tmp_path) == ["grades", "campuses", "diagnoses"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        copy_name(t) for t in ("grades", "campuses", "diagnoses")
    )

    cm = load_crossmatch(INCLUDE, district, copies=tmp_path)
    local = load_crossmatch(INCLUDE, make_district())
    assert (cm.grades, cm.campuses, cm.diagnoses) == (local.grades, local.campuses, local.diagnoses)
    for table in ("grades", "campuses", "diagnoses"):
        version = cm.versions[table]
        assert version.sha256 == hashlib.sha256((TABLES / f"{table}.csv").read_bytes()).hexdigest()
        assert version.source == f"{remote}/{table}.csv"


def test_the_copy_is_the_version_read_even_when_the_district_updates_the_table(remote: str, tmp_path: Path) -> None:
    district = make_district({"crossmatch": remote})
    copy_tables(district, tmp_path)
    _put(remote, "grades", b"district_code,rethink_code\nG05,5\n")
    cm = load_crossmatch(INCLUDE, district, copies=tmp_path)
    assert "G05" not in cm.grades and cm.grades["05"] == "5"


def test_local_tables_record_their_path_and_sha256() -> None:
    cm = load_crossmatch(INCLUDE, make_district())
    assert cm.versions["grades"].source == "crossmatch/sample_isd/grades.csv"
    assert cm.versions["campuses"].sha256 == hashlib.sha256((TABLES / "campuses.csv").read_bytes()).hexdigest()


def test_a_remote_table_that_fails_to_parse_names_its_url_and_line(remote: str, tmp_path: Path) -> None:
    _put(remote, "campuses", b"district_code,rethink_code\n101,SISD-EL-101\n102\n")
    district = make_district({"crossmatch": remote})
    copy_tables(district, tmp_path)
    with pytest.raises(ConfigError) as info:
        load_crossmatch(INCLUDE, district, copies=tmp_path)
    assert str(info.value) == f"{remote}/campuses.csv: line 3: expected 2 fields, found 1"
    assert str(tmp_path) not in str(info.value)


def test_a_missing_remote_table_fails_and_an_unmapped_diagnoses_may_be_absent(remote: str, tmp_path: Path) -> None:
    memory = fsspec.filesystem("memory")
    memory.rm(f"{remote}/diagnoses.csv")
    with pytest.raises(ConfigError, match=r"diagnoses\.csv: cross-match table not found \(key 'crossmatch'"):
        copy_tables(make_district({"crossmatch": remote}), tmp_path)
    no_diagnosis = make_district({"crossmatch": remote}, removed=("source.columns.diagnosis",))
    assert copy_tables(no_diagnosis, tmp_path) == ["grades", "campuses"]
    assert load_crossmatch(INCLUDE, no_diagnosis, copies=tmp_path).diagnoses == {}


def test_a_stale_copy_of_a_removed_table_is_not_read(remote: str, tmp_path: Path) -> None:
    no_diagnosis = make_district({"crossmatch": remote}, removed=("source.columns.diagnosis",))
    copy_tables(no_diagnosis, tmp_path)
    fsspec.filesystem("memory").rm(f"{remote}/diagnoses.csv")
    copy_tables(no_diagnosis, tmp_path)
    assert "diagnoses" not in load_crossmatch(INCLUDE, no_diagnosis, copies=tmp_path).versions


def test_sftp_tables_need_a_fetcher(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sftp://drop/cm: key 'crossmatch' of district sample_isd is an SFTP folder"):
        copy_tables(make_district({"crossmatch": "sftp://drop/cm"}), tmp_path)


def test_sftp_tables_go_through_the_fetcher(tmp_path: Path) -> None:
    fetched: list[str] = []

    def fetch(url: str, local: Path) -> int:
        fetched.append(url)
        local.write_bytes((TABLES / url.rsplit("/", 1)[1]).read_bytes())
        return local.stat().st_size

    district = make_district({"crossmatch": "sftp://drop/roster/cm"})
    copy_tables(district, tmp_path, fetch)
    assert fetched == [f"sftp://drop/roster/cm/{t}.csv" for t in ("grades", "campuses", "diagnoses")]
    assert load_crossmatch(INCLUDE, district, copies=tmp_path).versions["grades"].source == fetched[0]


def test_remote_tables_are_not_read_without_a_copy() -> None:
    with pytest.raises(ConfigError, match="read from a local copy"):
        load_crossmatch(INCLUDE, make_district({"crossmatch": "memory://nowhere/cm"}))


def test_dag_parsing_does_not_read_remote_tables(tmp_path: Path) -> None:
    from roster.airflow.nightly import build_all

    include = copy_include(tmp_path)
    # Neither exists: reading either at parse time would make the district's DAG the config-error stand-in.
    write_district(include, set_key(district_data(), "crossmatch", "sftp://undefined_conn/roster/cm"))
    dag = build_all(root=include)["roster_sample_isd"]
    assert "config-error" not in dag.tags and "extract_export" in dag.task_ids


def test_roster_run_reads_an_fsspec_url_and_records_the_versions(remote: str, tmp_path: Path) -> None:
    include = copy_include(tmp_path)
    write_district(include, set_key(district_data(), "crossmatch", remote))
    _put(remote, "grades", (TABLES / "grades.csv").read_bytes() + b"G05,5,only in the remote table\n")
    out = tmp_path / "out"
    args = ["run", "--district", "sample_isd", "--input", str(SAMPLE_EXPORT), "--out", str(out)]
    assert main([*args, "--date", "2026-11-20", "--include-dir", str(include)]) == 0
    report = json.loads((out / "qa_report.json").read_text())
    grades = (TABLES / "grades.csv").read_bytes() + b"G05,5,only in the remote table\n"
    assert report["crossmatch"]["grades"] == {
        "sha256": hashlib.sha256(grades).hexdigest(),
        "source": f"{remote}/grades.csv",
    }
    assert set(report["crossmatch"]) == {"grades", "campuses", "diagnoses"}


def test_roster_run_on_sftp_tables_without_the_connection_says_to_pass_a_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    include = copy_include(tmp_path)
    write_district(include, set_key(district_data(), "crossmatch", "sftp://no_such_conn/roster/cm"))
    args = ["run", "--district", "sample_isd", "--input", str(SAMPLE_EXPORT), "--out", str(tmp_path / "out")]
    assert main([*args, "--date", "2026-11-20", "--include-dir", str(include)]) == 2
    error = capsys.readouterr().err
    assert "the Airflow connection 'no_such_conn' is not defined here" in error and "--crossmatch DIR" in error

    # The local copy, passed instead: the night runs on it and records it.
    assert main([*args, "--date", "2026-11-20", "--include-dir", str(include), "--crossmatch", str(TABLES)]) == 0
    report = json.loads((tmp_path / "out" / "qa_report.json").read_text())
    assert report["crossmatch"]["grades"]["source"] == f"{TABLES}/grades.csv"


def test_check_config_reads_fsspec_tables(remote: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    include = copy_include(tmp_path)
    write_district(include, set_key(district_data(), "crossmatch", remote))
    _put(remote, "grades", b"district_code,rethink_code\nKG\n")
    assert main(["check-config", "--include-dir", str(include)]) == 2
    assert f"error: {remote}/grades.csv: line 2: expected 2 fields, found 1" in capsys.readouterr().err


def test_a_report_written_before_crossmatch_still_loads() -> None:
    payload = {
        "district_id": "sample_isd",
        "date": "2026-11-20",
        "passed": True,
        "rows_read": 1,
        "rows_accepted": 1,
        "rows_delivered": 1,
        "rows_rejected": 0,
        "rejects_by_reason": {},
        "max_reject_rate": 0.05,
        "reject_rate": 0.0,
        "verdict": "ok",
        "source_file": "export.csv",
        "output_file": "out.txt",
    }
    assert QaReport.from_json(payload).crossmatch == {}
