"""The synthetic sample export: deterministic, committed as generated, one broken row per reason."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys

from devtools.sample import BROKEN, generate_rows, render_csv, write_export
from domain_fixtures import HEADER, REPO, SAMPLE_EXPORT, make_night
from roster.night.pipeline import check_export

DAY = dt.date(2026, 11, 20)


def test_generation_is_deterministic():
    first = render_csv(generate_rows(300, DAY))
    assert render_csv(generate_rows(300, DAY)) == first
    assert render_csv(generate_rows(300, DAY, seed=8)) != first
    assert render_csv(generate_rows(300, dt.date(2026, 11, 21))) != first


def test_committed_sample_is_the_generated_one():
    assert SAMPLE_EXPORT.read_bytes() == render_csv(generate_rows(300, DAY))


def test_module_command_writes_the_same_bytes(tmp_path):
    target = tmp_path / "roster.csv"
    subprocess.run(
        [sys.executable, "-m", "devtools.sample", str(target)], check=True, cwd=REPO, capture_output=True, timeout=60
    )
    assert target.read_bytes() == SAMPLE_EXPORT.read_bytes()


def test_write_export(tmp_path):
    path = write_export(tmp_path / "sub" / "x.csv", 50, DAY, seed=3, broken=False)
    assert path.read_bytes() == render_csv(generate_rows(50, DAY, seed=3, broken=False))


def test_shape_of_the_export():
    data = render_csv(generate_rows(40, DAY))
    assert not data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8")
    assert text.count("\r\n") == 41
    rows = list(csv.reader(io.StringIO(text, newline="")))
    # Written out here, not taken from the generator: the sample district's file maps these headers.
    expected = "STATE_ID,LOCAL_ID,FIRST_NAME,MIDDLE_NAME,LAST_NAME,DOB,GENDER,GRADE,CAMPUS,DIAGNOSIS,STATUS,ELA_SCORE,MATH_SCORE"
    assert rows[0] == HEADER == expected.split(",")
    assert all(len(r) == len(HEADER) for r in rows)


def test_broken_rows_and_duplicate():
    clean = generate_rows(300, DAY, broken=False)
    broken = generate_rows(300, DAY)
    changed = [i for i, (a, b) in enumerate(zip(clean, broken, strict=True)) if a != b]
    assert len(changed) == len(BROKEN) + 1  # one per broken case, plus the duplicated id
    assert broken[-1]["STATE_ID"] == broken[-2]["STATE_ID"]
    assert len({r["STATE_ID"] for r in clean}) == 300
    assert all(r["STATE_ID"].startswith("000") for r in clean)  # leading zeros
    assert any(r["LAST_NAME"] == "NA" for r in clean)


def test_small_exports_have_no_broken_rows():
    assert generate_rows(20, DAY) == generate_rows(20, DAY, broken=False)


def test_sample_export_rejects_one_row_per_reason(tmp_path):
    result = check_export(make_night(), SAMPLE_EXPORT)
    by_reason = result.report.rejects_by_reason
    assert by_reason.pop("duplicate_state_id") == 2
    assert set(by_reason.values()) == {1}
    assert len(by_reason) == len(BROKEN)
    assert result.report.rows_read == 300
    assert result.report.rows_rejected == len(BROKEN) + 2
    assert result.report.passed is True


def test_clean_export_has_no_rejects(tmp_path):
    path = write_export(tmp_path / "clean.csv", 300, DAY, broken=False)
    result = check_export(make_night(), path)
    assert result.rejects.empty
    assert result.report.rows_read == 300


def test_the_oneroster_command_writes_the_committed_samples_students(tmp_path):
    from devtools.oneroster import sample_students, write_oneroster

    with SAMPLE_EXPORT.open(encoding="utf-8", newline="") as handle:
        assert sample_students() == list(csv.DictReader(handle))
    target = tmp_path / "oneroster_20261120.zip"
    subprocess.run(
        [sys.executable, "-m", "devtools.oneroster", str(target)], check=True, cwd=REPO, capture_output=True, timeout=60
    )
    assert target.read_bytes() == write_oneroster(tmp_path / "direct.zip", sample_students()).read_bytes()
