"""``roster go-live``: the gate's evidence (passed QA nights, the last reconcile), the minimal edit of
the district file, and what ``roster status`` shows of it.

QA nights are real offline nights (``roster run``) delivered with ``record_delivery``, the function
the DAG's ``record_delivery`` task calls, into a data root laid out as the DAG lays it out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from domain_fixtures import SAMPLE_EXPORT, copy_include, csv_text, district_data, set_key, write_district, write_export
from roster.cli import main
from roster.config import find_district
from roster.golive import gate, switch
from roster.io import store

DAYS = [dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2026, 11, 20)]
VENDOR_HEADER = ["State IDNumber", "First Name", "Last Name", "Date of Birth", "Enrollment Status"]
QA_FILE = """\
# Sample ISD, in QA with Rethink Ed since 2026-11-16.
district_id: sample_isd
name: Sample ISD   # as on the contract
timezone: America/Chicago
schedule: "0 2 * * *"
start_date: 2026-08-01
mode: qa    # live once Rethink Ed signs off
"""


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "data"
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(root))
    return root


@pytest.fixture
def qa_include(tmp_path) -> Path:
    """An include root whose sample district is in ``mode: qa``, its file written with comments."""
    include = copy_include(tmp_path)
    path = include / "districts" / "sample_isd.yaml"
    text = path.read_text(encoding="utf-8")
    rest = text[text.index("source:") :]
    path.write_text(QA_FILE + rest, encoding="utf-8")
    return include


def _night(include: Path, day: dt.date, *, mode: str | None = "qa", include_run: Path | None = None) -> Path:
    """A real night in ``ROSTER_DATA_ROOT/sample_isd/<day>/``: validated, written, and (with ``mode``) delivered."""
    from roster.night.pipeline import Night, record_delivery

    out = Path(store.run_location("sample_isd", day))
    code = main(
        [
            "run",
            *("--district", "sample_isd", "--input", str(SAMPLE_EXPORT), "--out", str(out)),
            *("--date", day.isoformat(), "--include-dir", str(include_run or include)),
        ]
    )
    if code == 0 and mode is not None:
        night = Night.load(include, "sample_isd", day)
        with store.snapshot_workspace("sample_isd") as snapshot:
            remote = f"/upload/sample_isd/{'qa/' if mode == 'qa' else ''}{night.output_name}"
            record_delivery(night, out, snapshot, remote_path=remote, mode=mode)
    return out


def _pair(tmp_path: Path, *, clean: bool) -> tuple[Path, Path]:
    """The sample export and a vendor export of its first two students: clean, or with one last name off."""
    import csv

    with SAMPLE_EXPORT.open(encoding="utf-8-sig", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["STATUS"] == "I"][:2]
    sis = write_export(tmp_path, text=csv_text(rows, header=list(rows[0])), name="sis.csv")
    vendor_rows = [
        dict(zip(VENDOR_HEADER, (r["STATE_ID"], r["FIRST_NAME"], r["LAST_NAME"], r["DOB"], "Inactive"), strict=True))
        for r in rows
    ]
    if not clean:
        vendor_rows[0]["Last Name"] += "x"
    vendor = write_export(tmp_path, text=csv_text(vendor_rows, header=VENDOR_HEADER), name="vendor.csv")
    return sis, vendor


def _reconcile(tmp_path: Path, include: Path, *, clean: bool) -> int:
    sis, vendor = _pair(tmp_path, clean=clean)
    args = ["--sis", str(sis), "--vendor", str(vendor), "--out", str(tmp_path / "reconcile")]
    return main(["reconcile", "--district", "sample_isd", *args, "--include-dir", str(include)])


def _go_live(capsys, include: Path, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()  # what the nights and reconciles before printed
    code = main(["go-live", "--district", "sample_isd", "--include-dir", str(include), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _district_file(include: Path) -> Path:
    return include / "districts" / "sample_isd.yaml"


# The evidence -----------------------------------------------------------------------------------


def test_passed_qa_nights_are_the_qa_mode_deliveries(data_root, qa_include, tmp_path, capsys):
    _night(qa_include, DAYS[0])
    _night(qa_include, DAYS[1], mode=None)  # validated and written, never delivered (e.g. upload failed)
    _night(qa_include, DAYS[2])
    strict = copy_include(tmp_path, "strict")
    write_district(strict, set_key(set_key(district_data(), "mode", "qa"), "qa.max_reject_rate", 0.01))
    failed = _night(qa_include, dt.date(2026, 11, 21), include_run=strict)  # QA failed: nothing delivered
    _night(qa_include, dt.date(2026, 11, 22), mode="live")  # a live delivery is no QA night
    (data_root / "sample_isd" / "2026-11-23").mkdir()  # a night whose export never came
    capsys.readouterr()
    assert json.loads((failed / "qa_report.json").read_text())["passed"] is False
    assert gate.passed_qa_nights("sample_isd") == [DAYS[0], DAYS[2]]


def test_a_superseded_or_held_night_does_not_count(data_root, qa_include, capsys):
    from dataclasses import replace

    from roster.night.pipeline import mark_superseded
    from roster.night.qa import load_report, save_report

    superseded, held = _night(qa_include, DAYS[0]), _night(qa_include, DAYS[1])
    capsys.readouterr()
    mark_superseded(superseded, DAYS[2])
    report = load_report(held)
    save_report(held, replace(report, held=True, rows_delivered=0))  # as a night waiting in review_hold
    assert gate.passed_qa_nights("sample_isd") == []


def test_reconcile_records_its_outcome_without_student_data(data_root, qa_include, tmp_path, capsys):
    assert _reconcile(tmp_path, qa_include, clean=True) == 0
    printed = capsys.readouterr().out
    record_path = data_root / "sample_isd" / "go-live" / "reconcile.json"
    assert f"recorded as the district's last reconcile (for roster go-live) in {record_path}" in printed
    record = json.loads(record_path.read_text())
    sis, vendor = tmp_path / "sis.csv", tmp_path / "vendor.csv"
    assert record["exit_code"] == 0 and record["counts"] == {}
    assert record["sis_sha256"] == hashlib.sha256(sis.read_bytes()).hexdigest()
    assert record["vendor_sha256"] == hashlib.sha256(vendor.read_bytes()).hexdigest()
    assert (record["sis_rows"], record["vendor_rows"]) == (2, 2)
    assert dt.datetime.fromisoformat(record["recorded_at"]) > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    assert set(record) == {
        "recorded_at",
        "exit_code",
        "counts",
        "sis_rows",
        "vendor_rows",
        "sis_sha256",
        "vendor_sha256",
    }
    assert gate.last_reconcile("sample_isd").clean

    # A later reconcile with findings replaces it: the clean one no longer counts.
    assert _reconcile(tmp_path, qa_include, clean=False) == 1
    last = gate.last_reconcile("sample_isd")
    assert last is not None and not last.clean and last.counts == {"identity_mismatch": 1}
    evidence = gate.evidence(find_district(qa_include, "sample_isd"))
    assert (
        evidence.missing()[-1]
        == f"the last reconcile on {last.recorded_at.date()} found 1 issues (identity_mismatch 1)"
    )


def test_an_unreadable_record_counts_as_none(data_root):
    folder = data_root / "sample_isd" / "go-live"
    folder.mkdir(parents=True)
    (folder / "reconcile.json").write_text("{not json")
    assert gate.last_reconcile("sample_isd") is None


def test_evidence_on_an_object_store_data_root(monkeypatch, qa_include, tmp_path, capsys, object_store):
    """The record and the QA reports are read and written through ``roster.io.store`` on an object-store
    root (fsspec memory://, and s3:// on a local S3 API)."""
    from roster.golive.reconcile import reconcile

    local = tmp_path / "local"
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(local))
    night = _night(qa_include, DAYS[0])
    capsys.readouterr()
    fs = object_store.fs
    fs.pipe(object_store.path("sample_isd/2026-11-18/qa_report.json"), (night / "qa_report.json").read_bytes())
    monkeypatch.setenv("ROSTER_DATA_ROOT", object_store.root)

    sis, vendor = _pair(tmp_path, clean=True)
    gate.record_reconcile("sample_isd", reconcile(sis, vendor, find_district(qa_include, "sample_isd")), sis, vendor)
    assert json.loads(fs.cat_file(object_store.path("sample_isd/go-live/reconcile.json")))["exit_code"] == 0
    found = gate.evidence(find_district(qa_include, "sample_isd"))
    assert found.qa_nights == [DAYS[0]] and found.reconcile is not None and found.reconcile.clean


# The edit ---------------------------------------------------------------------------------------


def test_set_live_changes_only_the_value_of_the_mode_line():
    text = "# top\r\nmode:   'qa'   # until sign-off\r\nqa:\r\n  mode: qa\r\nname: x"
    assert (
        switch.set_live(text, Path("d.yaml"))
        == "# top\r\nmode:   'live'   # until sign-off\r\nqa:\r\n  mode: qa\r\nname: x"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\n", "expected one top-level 'mode:' line, found 0"),
        ("mode: qa\nmode: qa\n", "expected one top-level 'mode:' line, found 2"),
        ("name: x\nmode:\n  qa\n", "line 2: key 'mode': not a plain 'mode: qa' line"),
    ],
)
def test_set_live_refuses_a_mode_line_it_cannot_edit(text, expected):
    from roster.errors import ConfigError

    with pytest.raises(ConfigError, match=expected):
        switch.set_live(text, Path("d.yaml"))


def test_set_go_live_appends_then_replaces_the_block():
    from roster.config.district import GoLive

    first = GoLive(approved_by='Dana "DC" Cole', approved_on=dt.date(2026, 11, 20), missing=["2 of 3 nights"])
    text = switch.set_go_live("mode: live\nname: x", first)
    assert text == (
        "mode: live\nname: x\n"
        "# Written by roster go-live --approved-by: who accepted going live, and what was missing then.\n"
        'go_live:\n  approved_by: "Dana \\"DC\\" Cole"\n  approved_on: 2026-11-20\n  missing:\n    - "2 of 3 nights"\n'
    )
    later = GoLive(approved_by="Lee", approved_on=dt.date(2026, 11, 21))
    replaced = switch.set_go_live(text + "\n# contacts\ncontacts: {}\n", later)
    assert replaced.endswith(
        'go_live:\n  approved_by: "Lee"\n  approved_on: 2026-11-21\n  missing: []\n\n# contacts\ncontacts: {}\n'
    )
    assert replaced.count("go_live:") == 1 and replaced.count("# Written by roster go-live") == 1


def test_an_edit_that_would_not_validate_is_refused_and_the_file_kept(qa_include, monkeypatch):
    from roster.errors import ConfigError

    path = _district_file(qa_include)
    before, files = path.read_bytes(), sorted(p.name for p in path.parent.iterdir())
    monkeypatch.setattr(switch, "set_live", lambda text, _path: text.replace("mode: qa", "mode: sideways"))
    with pytest.raises(ConfigError) as info:
        switch.switch_to_live(path)
    assert str(info.value).startswith(f"switching to live would make the file invalid (nothing changed): {path}: ")
    assert "key 'mode'" in str(info.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == files  # no temporary file left
    assert "sample_isd.yaml" in files


# The command ------------------------------------------------------------------------------------


def test_go_live_without_the_evidence_exits_1_and_changes_nothing(data_root, qa_include, tmp_path, capsys):
    _night(qa_include, DAYS[0])
    _night(qa_include, DAYS[1])
    before = _district_file(qa_include).read_bytes()
    code, out, err = _go_live(capsys, qa_include)
    assert (code, err) == (1, "")
    assert out.splitlines()[1:3] == [
        "  2 of 3 required QA nights passed (2026-11-18, 2026-11-19)",
        "  no reconcile recorded (run roster reconcile, or the roster_go_live DAG's reconcile step)",
    ]
    assert _district_file(qa_include).read_bytes() == before

    _night(qa_include, DAYS[2])
    assert _reconcile(tmp_path, qa_include, clean=False) == 1
    capsys.readouterr()
    code, out, _ = _go_live(capsys, qa_include)
    assert code == 1
    assert out.splitlines()[1].startswith("  the last reconcile on ") and "found 1 issues (identity_mismatch 1)" in out
    assert "required QA nights" not in out
    assert _district_file(qa_include).read_bytes() == before


def test_go_live_with_the_evidence_switches_only_the_mode_line(data_root, qa_include, tmp_path, capsys):
    for day in DAYS:
        _night(qa_include, day)
    assert _reconcile(tmp_path, qa_include, clean=True) == 0
    capsys.readouterr()
    path = _district_file(qa_include)
    path.chmod(0o644)
    before = path.read_text(encoding="utf-8")
    code, out, err = _go_live(capsys, qa_include)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "go-live sample_isd: switched to mode: live"
    assert "3 QA nights passed (latest: 2026-11-18, 2026-11-19, 2026-11-20)" in out
    after = path.read_text(encoding="utf-8")
    assert after == before.replace("mode: qa    # live once", "mode: live    # live once")
    assert path.stat().st_mode & 0o777 == 0o644
    assert find_district(qa_include, "sample_isd").mode == "live"

    code, out, _ = _go_live(capsys, qa_include)  # again: nothing to do
    assert code == 0 and "already in mode: live; nothing changed" in out
    assert path.read_text(encoding="utf-8") == after


def test_required_nights_comes_from_the_district_file(data_root, qa_include, tmp_path, capsys):
    path = _district_file(qa_include)
    path.write_text(path.read_text().replace("  hold_timeout: 20h\n", "  hold_timeout: 20h\n  required_nights: 1\n"))
    _night(qa_include, DAYS[0])
    _reconcile(tmp_path, qa_include, clean=True)
    capsys.readouterr()
    assert _go_live(capsys, qa_include)[0] == 0


def test_approved_by_switches_and_records_who_accepted_it(data_root, qa_include, capsys):
    _night(qa_include, DAYS[0])
    capsys.readouterr()
    path = _district_file(qa_include)
    before = path.read_text(encoding="utf-8")
    code, out, err = _go_live(capsys, qa_include, "--approved-by", "Dana Cole")
    assert (code, err) == (0, "")
    assert out.splitlines()[:3] == [
        "go-live sample_isd: switched to mode: live, approved by Dana Cole without:",
        "  1 of 3 required QA nights passed (2026-11-18)",
        "  no reconcile recorded (run roster reconcile, or the roster_go_live DAG's reconcile step)",
    ]
    after = path.read_text(encoding="utf-8")
    assert after.startswith(before.replace("mode: qa ", "mode: live "))
    district = find_district(qa_include, "sample_isd")
    assert district.mode == "live" and district.go_live is not None
    assert district.go_live.approved_by == "Dana Cole" and district.go_live.approved_on == dt.date.today()
    assert district.go_live.missing == [
        "1 of 3 required QA nights passed (2026-11-18)",
        "no reconcile recorded (run roster reconcile, or the roster_go_live DAG's reconcile step)",
    ]

    assert main(["status", "--include-dir", str(qa_include)]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert row.endswith(f"approved by Dana Cole on {dt.date.today()} (2 missing then)")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--district", "nowhere"], "no such district file"),
        (["--district", "../x"], "is not a district name"),
        (["--district", "sample_isd", "--approved-by", "  "], "--approved-by: give the name"),
    ],
)
def test_go_live_errors_exit_2_with_one_line(data_root, qa_include, capsys, args, expected):
    before = _district_file(qa_include).read_bytes()
    code = main(["go-live", *args, "--include-dir", str(qa_include)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: ") and expected in err
    assert _district_file(qa_include).read_bytes() == before


def test_a_mode_line_the_command_cannot_edit_is_an_error(data_root, qa_include, capsys):
    path = _district_file(qa_include)
    path.write_text(path.read_text().replace("mode: qa    # live once Rethink Ed signs off", "mode:\n  qa"))
    before = path.read_bytes()
    code, _, err = _go_live(capsys, qa_include, "--approved-by", "Dana Cole")
    assert code == 2 and err.startswith(f"error: {path}: line 7: key 'mode': not a plain 'mode: qa' line")
    assert path.read_bytes() == before


# Status -----------------------------------------------------------------------------------------


def _status_cell(capsys, include: Path) -> str:
    capsys.readouterr()
    assert main(["status", "--include-dir", str(include)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["district", "mode", "last_delivered", "last_qa", "next_run", "go_live"]
    return lines[1][lines[0].index("go_live") :]


def test_status_shows_the_evidence_of_a_qa_district(data_root, qa_include, tmp_path, capsys):
    assert _status_cell(capsys, qa_include) == "0/3 QA nights, reconcile not run"
    _night(qa_include, DAYS[0])
    _reconcile(tmp_path, qa_include, clean=False)
    capsys.readouterr()
    today = dt.date.today()
    assert _status_cell(capsys, qa_include) == f"1/3 QA nights, reconcile 1 findings ({today})"
    _night(qa_include, DAYS[1])
    _night(qa_include, DAYS[2])
    _reconcile(tmp_path, qa_include, clean=True)
    capsys.readouterr()
    assert _status_cell(capsys, qa_include) == f"3/3 QA nights, reconcile clean ({today}): ready"
