"""A OneRoster district's night: the same students as a flat CSV and as a bulk package give the same
roster file, byte for byte; a package folder is copied into the run folder as one zip."""

from __future__ import annotations

import csv
import datetime as dt
import zipfile
from pathlib import Path

import pytest

from devtools import sample
from devtools.oneroster import EXTENSIONS, write_oneroster, write_oneroster_folder
from domain_fixtures import (
    OUTPUT_NAME,
    ROSTER_DATE,
    SAMPLE_EXPORT,
    copy_include,
    district_data,
    set_key,
    write_district,
)
from roster.cli import main
from roster.config import load_district
from roster.errors import ConfigError, InputError
from roster.io.export_copy import copy_local_export, copy_name, local_export_present
from roster.night.pipeline import Night, serialize_night, validate_night

CEDS_GRADES = "district_code,rethink_code,description\nPK,PK,Pre-K\nKG,K,Kindergarten\n" + "".join(
    f"{g:02d},{g},Grade {g}\n" for g in range(1, 13)
)


def _students() -> list[dict[str, str]]:
    with SAMPLE_EXPORT.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


#: The sample export is ``devtools.sample``'s 300 students (checked below): one row per
#: ``sample.BROKEN`` case, rejected for that one reason, and the last two rows sharing an id (both
#: rejected). Every other student is delivered, one roster line each under the header.
SAMPLE_STUDENTS = 300
BAD_ROWS = len(sample.BROKEN) + 2
ROSTER_LINES = 1 + SAMPLE_STUDENTS - BAD_ROWS
REJECT_LINES = 1 + BAD_ROWS


def test_the_sample_export_is_the_generated_one() -> None:
    """The precondition of the counts above."""
    assert SAMPLE_EXPORT.read_bytes() == sample.render_csv(sample.generate_rows(SAMPLE_STUDENTS, ROSTER_DATE))


def _oneroster_data(path: str) -> dict:
    data = district_data()
    source = {"path": path, "format": "oneroster", "oneroster": {"state_id": "identifier", "extensions": EXTENSIONS}}
    for key in ("state_id_pattern", "wait_for", "encoding"):
        if key in data["source"]:
            source[key] = data["source"][key]
    return set_key(data, "source", source)


def _include(tmp_path: Path) -> Path:
    include = copy_include(tmp_path)
    (include / "crossmatch" / "sample_isd" / "grades.csv").write_text(CEDS_GRADES, encoding="utf-8")
    return include


def _night_files(include: Path, export: Path, out: Path) -> dict[str, bytes]:
    night = Night.load(include, "sample_isd", ROSTER_DATE)
    validated = validate_night(night, export, out)
    serialize_night(night, export, out, None, validated=validated, write_held=True)
    return {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}


def test_the_same_students_as_csv_and_as_oneroster_give_byte_identical_roster_files(tmp_path: Path) -> None:
    include = _include(tmp_path)
    students = _students()
    flat = _night_files(include, SAMPLE_EXPORT, tmp_path / "flat")
    package = write_oneroster(tmp_path / "oneroster_20261120.zip", students)
    write_district(include, _oneroster_data(str(package)))
    oneroster = _night_files(include, package, tmp_path / "oneroster")
    assert flat[OUTPUT_NAME].count(b"\n") == ROSTER_LINES
    assert oneroster[OUTPUT_NAME] == flat[OUTPUT_NAME]
    # The same rows are rejected for the same reasons (row numbers are users.csv rows, header = 1).
    assert oneroster["rejects.csv"] == flat["rejects.csv"] and flat["rejects.csv"].count(b"\n") == REJECT_LINES


def test_the_package_is_deterministic(tmp_path: Path) -> None:
    students = _students()
    a = write_oneroster(tmp_path / "a.zip", students).read_bytes()
    b = write_oneroster(tmp_path / "b.zip", students).read_bytes()
    assert a == b
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert archive.namelist() == ["demographics.csv", "manifest.csv", "orgs.csv", "users.csv"]


def test_roster_run_reads_a_package(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    include = _include(tmp_path)
    folder = write_oneroster_folder(tmp_path / "inbound" / "oneroster_20261120", _students())
    write_district(include, _oneroster_data(str(tmp_path / "inbound" / "oneroster_{date:%Y%m%d}")))
    out = tmp_path / "out"
    args = ["--district", "sample_isd", "--input", str(folder), "--out", str(out), "--date", "2026-11-20"]
    code = main(["run", *args, "--include-dir", str(include), "--approve-hold"])
    assert code == 0, capsys.readouterr()
    roster = (out / OUTPUT_NAME).read_bytes()
    assert roster.count(b"\n") == ROSTER_LINES and b"0004000000" in roster


def test_a_folder_is_copied_as_one_deterministic_zip(tmp_path: Path) -> None:
    folder = write_oneroster_folder(tmp_path / "oneroster_20261120", _students()[:20])
    assert local_export_present(folder, package=True)
    assert not local_export_present(folder, package=False)
    assert copy_name(folder) == "export_oneroster_20261120.zip"
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    copy_local_export(folder, first, package=True)
    copy_local_export(folder, second, package=True)
    assert first.read_bytes() == second.read_bytes() and first.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(first) as archive:
        assert archive.read("users.csv") == (folder / "users.csv").read_bytes()


def test_a_folder_without_its_manifest_is_not_there_yet(tmp_path: Path) -> None:
    folder = write_oneroster_folder(tmp_path / "pkg", _students()[:3])
    (folder / "manifest.csv").unlink()
    assert not local_export_present(folder, package=True)
    with pytest.raises(InputError, match=r"no manifest\.csv"):
        copy_local_export(folder, tmp_path / "x.zip", package=True)


def test_a_folder_for_a_csv_district_is_refused(tmp_path: Path) -> None:
    folder = write_oneroster_folder(tmp_path / "pkg", _students()[:3])
    with pytest.raises(InputError, match=r"only source\.format: oneroster"):
        copy_local_export(folder, tmp_path / "x.zip", package=False)


def test_an_sftp_package_must_be_a_zip(tmp_path: Path) -> None:
    include = copy_include(tmp_path)
    path = write_district(include, _oneroster_data("sftp://sis_sftp/out/oneroster_{date:%Y%m%d}"))
    with pytest.raises(ConfigError, match=r"source.path 'sftp://sis_sftp/out/oneroster_\{date:%Y%m%d\}'.*\.zip"):
        load_district(path)
    write_district(include, _oneroster_data("sftp://sis_sftp/out/oneroster_{date:%Y%m%d}.zip"))
    assert load_district(path).source_path(dt.date(2026, 11, 20)).endswith("oneroster_20261120.zip")
