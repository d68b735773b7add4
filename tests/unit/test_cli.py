"""The ``roster`` command: exit codes, artifacts, one-line errors, include roots, privacy."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from domain_fixtures import (
    CONTRACT_REPORT_KEYS,
    HEADER,
    INCLUDE,
    OUTPUT_NAME,
    REJECT_HEADER,
    REPO,
    ROSTER_BIN,
    SAMPLE_EXPORT,
    copy_include,
    row,
    write_export,
)
from roster.cli import main

SAMPLE_REJECTS_BY_REASON = {
    "age_out_of_range": 1,
    "bad_date_of_birth": 1,
    "bad_score": 1,
    "bad_state_id": 1,
    "duplicate_state_id": 2,
    "forbidden_character": 1,
    "missing_first_name": 1,
    "missing_last_name": 1,
    "missing_state_id": 1,
    "unknown_campus": 1,
    "unknown_diagnosis": 1,
    "unknown_grade": 1,
    "unknown_status": 1,
}


def _run_args(out: Path, *extra: str, input: Path = SAMPLE_EXPORT, district: str = "sample_isd") -> list[str]:
    return ["run", "--district", district, "--input", str(input), "--out", str(out), "--date", "2026-11-20", *extra]


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    return lines[0]


def _tweak_district(root: Path, **changes) -> Path:
    path = root / "districts" / "sample_isd.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for part in parents:
            node = node[part]
        node[last] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_include_env(monkeypatch):
    monkeypatch.delenv("ROSTER_INCLUDE_DIR", raising=False)


# roster run -------------------------------------------------------------------------------------------


def test_run_sample_passes(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_run_args(out)) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("QA passed: 14 of 300 rows rejected")
    assert captured.err == ""

    report = json.loads((out / "qa_report.json").read_text(encoding="utf-8"))
    assert set(report) >= CONTRACT_REPORT_KEYS
    assert report["district_id"] == "sample_isd"
    assert report["date"] == "2026-11-20"
    assert report["passed"] is True
    assert report["rows_read"] == 300
    assert report["rows_rejected"] == 14
    assert report["rows_delivered"] == 286
    assert report["rejects_by_reason"] == SAMPLE_REJECTS_BY_REASON

    rejects = (out / "rejects.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[0] == REJECT_HEADER
    assert len(rejects) == 1 + 14  # one reason per rejected row here; both rows of the duplicated id
    assert "300,0004002086,state_test_number,duplicate_state_id" in rejects
    assert "301,0004002086,state_test_number,duplicate_state_id" in rejects

    output = out / OUTPUT_NAME
    data = output.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    lines = data.split(b"\r\n")
    assert lines[-1] == b""
    assert lines[0].startswith(b"State IDNumber|Local ID|")
    assert len(lines) - 2 == 286
    ids = [line.split(b"|")[0] for line in lines[1:-1]]
    assert ids == sorted(ids)
    assert b"0004002086" not in data  # the duplicated id is not delivered


def test_run_twice_gives_identical_output(tmp_path, capsys):
    assert main(_run_args(tmp_path / "a")) == 0
    assert main(_run_args(tmp_path / "b")) == 0
    for name in (OUTPUT_NAME, "qa_report.json", "rejects.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_failed_run_leaves_no_earlier_result_in_out(tmp_path, capsys):
    """A run that ends in an error must not leave the last run's report and roster file looking like its own."""
    out = tmp_path / "out"
    assert main(_run_args(out)) == 0
    assert (out / OUTPUT_NAME).exists() and (out / "qa_report.json").exists()
    (out / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(_run_args(out, input=tmp_path / "missing.csv")) == 2
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_run_default_date_is_today(tmp_path, capsys):
    out = tmp_path / "out"
    main(["run", "--district", "sample_isd", "--input", str(SAMPLE_EXPORT), "--out", str(out)])
    report = json.loads((out / "qa_report.json").read_text(encoding="utf-8"))
    assert report["date"] == dt.date.today().isoformat()


def test_run_fails_qa_with_a_stricter_include_dir(tmp_path, capsys):
    root = copy_include(tmp_path)
    _tweak_district(root, qa__max_reject_rate=0.04)
    out = tmp_path / "out"
    assert main(_run_args(out)) == 0  # an earlier run's roster file, left in --out
    assert (out / OUTPUT_NAME).exists()
    capsys.readouterr()
    assert main(_run_args(out, "--include-dir", str(root))) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("QA failed: 14 of 300 rows rejected (4.67%), above the limit of 4.00%")
    assert not (out / OUTPUT_NAME).exists()
    report = json.loads((out / "qa_report.json").read_text(encoding="utf-8"))
    assert report["passed"] is False
    assert report["rows_delivered"] == 0
    assert report["rows_rejected"] == 14
    assert (out / "rejects.csv").read_text(encoding="utf-8").splitlines()[0] == REJECT_HEADER


def test_run_fails_qa_on_a_worse_export(tmp_path, capsys):
    rows = [row(STATE_ID=f"{n:07d}") for n in range(1, 21)]
    rows[3]["GRADE"] = "13"  # 1 of 20 = 5%: at the sample's limit of 5%
    export = write_export(tmp_path, rows)
    assert main(_run_args(tmp_path / "ok", input=export)) == 0
    rows[4]["CAMPUS"] = "999"  # 2 of 20 = 10%
    export = write_export(tmp_path, rows)
    assert main(_run_args(tmp_path / "bad", input=export)) == 1
    assert not (tmp_path / "bad" / OUTPUT_NAME).exists()
    assert (tmp_path / "ok" / OUTPUT_NAME).exists()


def test_run_fails_qa_on_an_export_without_rows(tmp_path, capsys):
    export = write_export(tmp_path, [])
    assert main(_run_args(tmp_path / "out", input=export)) == 1
    report = json.loads((tmp_path / "out" / "qa_report.json").read_text(encoding="utf-8"))
    assert report["rows_read"] == 0 and report["passed"] is False


def test_include_dir_env_var_is_honoured(tmp_path, capsys, monkeypatch):
    root = copy_include(tmp_path)
    _tweak_district(root, qa__max_reject_rate=0.01)
    monkeypatch.setenv("ROSTER_INCLUDE_DIR", str(root))
    assert main(_run_args(tmp_path / "env")) == 1
    # --include-dir wins over the environment
    assert main(_run_args(tmp_path / "flag", "--include-dir", str(INCLUDE))) == 0


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown_district", ["nope_isd.yaml: no such district file"]),
        ("missing_input", ["missing.csv: export not found"]),
        ("missing_column", ["line 1: required column 'DOB' (date_of_birth) is missing from the header"]),
        ("bad_district_file", ["sample_isd.yaml: key 'timezone':", "not an IANA time zone"]),
        ("unknown_key", ["sample_isd.yaml: unknown key 'source.colums'"]),
        ("broken_table", ["grades.csv: line 3: district_code 'KG' is listed twice"]),
        ("broken_layout", ["rethink_ed.yaml: key 'columns.0.field':"]),
        ("latin1_as_utf8", ["line 3: not valid utf-8 text"]),
        ("bad_date", ["--date '2026-13-01' is not a date like 2026-11-20"]),
        ("no_args", ["the following arguments are required: --input, --out"]),
    ],
)
def test_run_errors_exit_2_with_one_line(tmp_path, capsys, case, expected):  # noqa: PLR0912 - one branch per parametrized case arranges its input
    out = tmp_path / "out"
    root = copy_include(tmp_path)
    args = _run_args(out, "--include-dir", str(root))
    if case == "unknown_district":
        args = _run_args(out, "--include-dir", str(root), district="nope_isd")
    elif case == "missing_input":
        args = _run_args(out, "--include-dir", str(root), input=tmp_path / "missing.csv")
    elif case == "missing_column":
        export = write_export(tmp_path, [row()], header=[h for h in HEADER if h != "DOB"])
        args = _run_args(out, "--include-dir", str(root), input=export)
    elif case == "bad_district_file":
        _tweak_district(root, timezone="Mars/Olympus_Mons")
    elif case == "unknown_key":
        _tweak_district(root, source__colums={"x": "y"})
    elif case == "broken_table":
        with (root / "crossmatch" / "sample_isd" / "grades.csv").open("a", encoding="utf-8") as handle:
            handle.write("KG,K,again\n")
        lines = (root / "crossmatch" / "sample_isd" / "grades.csv").read_text(encoding="utf-8").splitlines()
        expected = [f"grades.csv: line {len(lines)}: district_code 'KG' is listed twice"]
    elif case == "broken_layout":
        layout = root / "layouts" / "rethink_ed.yaml"
        layout.write_text(
            layout.read_text(encoding="utf-8").replace("field: state_test_number", "field: ssid"), encoding="utf-8"
        )
    elif case == "latin1_as_utf8":
        export = write_export(tmp_path, [row(), row(STATE_ID="0001235", LAST_NAME="Peña")], encoding="latin-1")
        args = _run_args(out, "--include-dir", str(root), input=export)
    elif case == "bad_date":
        args = [*_run_args(out)[:-1], "2026-13-01"]
    elif case == "no_args":
        args = ["run", "--district", "sample_isd"]
    if case in ("bad_date", "no_args"):
        with pytest.raises(SystemExit) as info:
            main(args)
        rc = info.value.code
    else:
        rc = main(args)
    captured = capsys.readouterr()
    assert rc == 2
    line = _one_error_line(captured.err)
    for part in expected:
        assert part in line
    assert captured.out == ""
    assert not (out / OUTPUT_NAME).exists()


def test_run_names_the_district_file_in_errors(tmp_path, capsys):
    root = copy_include(tmp_path)
    path = _tweak_district(root, schedule="every night")
    assert main(_run_args(tmp_path / "out", "--include-dir", str(root))) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line == f"error: {path}: key 'schedule': 'every night' is not a cron expression such as '0 2 * * *'"


def test_unexpected_errors_are_one_line_without_the_message(tmp_path, capsys, monkeypatch):
    import roster.night.pipeline

    def boom(*args, **kwargs):
        raise ValueError("Bartholomew 02/30/2012")

    monkeypatch.setattr(roster.night.pipeline, "check_export", boom)
    assert main(_run_args(tmp_path / "out")) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("error: internal error (ValueError)")
    assert "Bartholomew" not in line


# the user's files --------------------------------------------------------------------------------


def _command(command: str, out: Path, district: str = "sample_isd", input: Path = SAMPLE_EXPORT) -> list[str]:
    """Each command that takes --out, with the sample's inputs."""
    if command == "run":
        return _run_args(out, input=input, district=district)
    args = [command, "--district", district, "--out", str(out)]
    if command == "crossmatch":
        args += ["--input", str(input)]
    if command == "reconcile":
        args += ["--sis", str(input), "--vendor", str(input)]
    return args


COMMANDS = ("run", "crossmatch", "reconcile", "announce")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("where", ["file", "under_a_file"])
def test_out_that_cannot_be_a_folder_is_one_error_line(tmp_path, capsys, command, where):
    """--out at a file or under one: one line naming the path and what is wrong (was NotADirectoryError)."""
    blocker = tmp_path / "taken.txt"
    blocker.write_text("mine")
    out = blocker if where == "file" else blocker / "out"
    assert main(_command(command, out)) == 2
    line = _one_error_line(capsys.readouterr().err)
    expected = "is a file" if where == "file" else f"is under {blocker}, which is a file"
    assert line.startswith(f"error: {out}: the output folder ") and expected in line
    assert blocker.read_text() == "mine"


@pytest.mark.parametrize("command", COMMANDS)
def test_out_that_cannot_be_written_is_one_error_line(tmp_path, capsys, command, monkeypatch):
    """A folder the run may not write into (permissions, a read-only file system): named, before any work."""
    import tempfile

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refused)  # what a read-only or foreign folder answers
    out = tmp_path / "out"
    assert main(_command(command, out)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert (
        line == f"error: {out}: cannot write into {tmp_path}, where the output folder would be made (Permission denied)"
    )
    assert not out.exists()


#: Root writes into any folder through its DAC-override capabilities, and CI runs as root: there
#: the command runs without them (``setpriv`` drops them from the bounding set), so the kernel
#: checks the folder's mode bits for root as for anyone. (Not ``nobody``: the interpreter may sit
#: under /root, which such a user cannot reach.)
WITHOUT_ROOT_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]


def test_out_without_write_permission_is_one_error_line(tmp_path):
    """A real read-only folder (mode 0555): the kernel refuses the write, as root in a container too."""
    import sys

    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    env = {k: v for k, v in os.environ.items() if k != "ROSTER_INCLUDE_DIR"}
    env.update(PYTHONPATH=str(REPO / "plugins"), PYTHONDONTWRITEBYTECODE="1")
    wrapper = WITHOUT_ROOT_OVERRIDE if os.geteuid() == 0 else []
    result = subprocess.run(
        [*wrapper, sys.executable, "-m", "roster.cli", *_run_args(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "cannot write into the output folder (Permission denied)" in _one_error_line(result.stderr)
    assert list(out.iterdir()) == []


def test_a_missing_out_folder_is_created(tmp_path, capsys):
    out = tmp_path / "new" / "deeper"
    assert main(_run_args(out)) == 0
    assert (out / OUTPUT_NAME).is_file()


@pytest.mark.parametrize("name", ["changes.csv", "rejects.csv", "qa_report.json", OUTPUT_NAME])
def test_an_input_among_the_run_files_is_refused_and_kept(tmp_path, capsys, name):
    """--input out/changes.csv --out out: refused, naming both; the file is neither cleared nor overwritten."""
    out = tmp_path / "out"
    assert main(_run_args(out)) == 0  # the folder holds a run's files
    capsys.readouterr()
    mine = out / name
    mine.write_bytes(SAMPLE_EXPORT.read_bytes())  # the user's export, saved under an artifact's name
    assert main(_run_args(out, input=mine)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: {mine}: --input is {mine}, a file this run writes into {out}")
    assert mine.read_bytes() == SAMPLE_EXPORT.read_bytes()


def test_previous_in_out_under_the_output_name_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_run_args(out)) == 0
    capsys.readouterr()
    delivered = out / OUTPUT_NAME
    before = delivered.read_bytes()
    assert main(_run_args(out, "--previous", str(delivered))) == 2
    assert f"--previous is {delivered}" in _one_error_line(capsys.readouterr().err)
    assert delivered.read_bytes() == before


def test_clean_up_deletes_only_files_a_run_wrote(tmp_path, capsys):
    """A file the user put in --out under an artifact's name (never written by a run) survives a failed run;
    the files the earlier run wrote do not."""
    out = tmp_path / "out"
    assert main(_run_args(out)) == 0
    (out / "changes.csv").write_text("my own notes\n")  # replaces what the run wrote: now the user's
    capsys.readouterr()
    assert main(_run_args(out, input=tmp_path / "missing.csv")) == 2
    assert sorted(p.name for p in out.iterdir()) == ["changes.csv"]
    assert (out / "changes.csv").read_text() == "my own notes\n"


def test_crossmatch_input_among_its_reports_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "missing_grades.csv"
    mine.write_bytes(SAMPLE_EXPORT.read_bytes())
    assert main(_command("crossmatch", out, input=mine)) == 2
    assert f"--input is {mine}" in _one_error_line(capsys.readouterr().err)
    assert mine.read_bytes() == SAMPLE_EXPORT.read_bytes()


@pytest.mark.parametrize("command", [*COMMANDS, "run_dotted"])
def test_district_outside_the_include_folder_is_refused(tmp_path, capsys, command):
    """--district ../outside/sample_isd named a valid district file outside include/districts/: not loaded."""
    root = copy_include(tmp_path)
    (root / "outside").mkdir()
    (root / "outside" / "sample_isd.yaml").write_bytes((root / "districts" / "sample_isd.yaml").read_bytes())
    district = "../outside/sample_isd" if command != "run_dotted" else "sample_isd.yaml"
    args = [*_command(command.removesuffix("_dotted"), tmp_path / "out", district=district), "--include-dir", str(root)]
    assert main(args) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: district id {district!r} is not a district name")
    assert not (tmp_path / "out").exists()


def test_a_file_system_error_names_its_path(tmp_path, capsys, monkeypatch):
    """An OSError on a path (disk full, permissions changed mid-run) is one line naming it, not an internal error."""
    import roster.night.pipeline

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "out" / "rejects.csv"))

    monkeypatch.setattr(roster.night.pipeline, "check_export", denied)
    assert main(_run_args(tmp_path / "out")) == 2
    assert _one_error_line(capsys.readouterr().err) == f"error: {tmp_path / 'out' / 'rejects.csv'}: Permission denied"


# roster check-config -------------------------------------------------------------------------------


def test_check_config_repo_include(capsys):
    assert main(["check-config"]) == 0
    captured = capsys.readouterr()
    assert re.fullmatch(
        rf"ok: [1-9][0-9]* district file\(s\) valid in {re.escape(str(INCLUDE / 'districts'))}\n", captured.out
    )
    assert captured.err == ""
    assert main(["check-config", "--include-dir", str(INCLUDE)]) == 0


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (
            lambda root: _tweak_district(root, qa__max_reject_rate=2),
            "districts/sample_isd.yaml: key 'qa.max_reject_rate':",
        ),
        (lambda root: _tweak_district(root, colour="blue"), "districts/sample_isd.yaml: unknown key 'colour'"),
        (
            lambda root: _tweak_district(root, destination__layout="missing_layout"),
            "layouts/missing_layout.yaml: file not found",
        ),
        (
            lambda root: _tweak_district(root, crossmatch="crossmatch/none"),
            "crossmatch/none: cross-match folder not found",
        ),
        (
            lambda root: (root / "crossmatch" / "sample_isd" / "campuses.csv").write_text("code,rethink\n101,X\n"),
            "campuses.csv: line 1: header must be district_code,rethink_code[,description]",
        ),
        (
            lambda root: (root / "districts" / "other_isd.yaml").write_text(
                (root / "districts" / "sample_isd.yaml").read_text(encoding="utf-8")
            ),
            "districts/other_isd.yaml: key 'district_id': 'sample_isd' must match the file name 'other_isd'",
        ),
        (
            lambda root: _tweak_district(root, destination__pool="nobody_declared_it"),
            "districts/sample_isd.yaml: key 'destination.pool': pool 'nobody_declared_it' is not declared in",
        ),
        (
            lambda root: (root / "pools.yaml").write_text("pools:\n  vendor:\n    slots: 0\n"),
            "pools.yaml: key 'pools.vendor.slots':",
        ),
        (
            lambda root: (root / "pools.yaml").write_text("pools:\n  vendor:\n    slot: 2\n"),
            "pools.yaml: unknown key 'pools.vendor.slot'",
        ),
    ],
)
def test_check_config_broken_copy(tmp_path, capsys, break_it, expected):
    root = copy_include(tmp_path)
    break_it(root)
    assert main(["check-config", "--include-dir", str(root)]) == 2
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert str(root) in line
    assert expected in line


def test_check_config_accepts_a_declared_pool_and_airflows_default(tmp_path, capsys):
    root = copy_include(tmp_path)
    _tweak_district(root, destination__pool="rethink_sftp")
    assert main(["check-config", "--include-dir", str(root)]) == 0
    _tweak_district(root, destination__pool="default_pool")
    assert main(["check-config", "--include-dir", str(root)]) == 0
    assert capsys.readouterr().err == ""


def test_check_config_reports_every_broken_district(tmp_path, capsys):
    root = copy_include(tmp_path)
    good = (root / "districts" / "sample_isd.yaml").read_text(encoding="utf-8")
    (root / "districts" / "aaa_isd.yaml").write_text(
        good.replace("district_id: sample_isd", "district_id: aaa_isd").replace("mode: live", "mode: sometimes")
    )
    (root / "districts" / "zzz_isd.yaml").write_text(
        good.replace("district_id: sample_isd", "district_id: zzz_isd").replace(
            "timezone: America/Chicago", "timezone: Nowhere"
        )
    )
    assert main(["check-config", "--include-dir", str(root)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"error: {root / 'districts' / 'aaa_isd.yaml'}: key 'mode'")
    assert lines[1].startswith(f"error: {root / 'districts' / 'zzz_isd.yaml'}: key 'timezone'")


def test_check_config_without_districts(tmp_path, capsys):
    (tmp_path / "districts").mkdir()
    assert main(["check-config", "--include-dir", str(tmp_path)]) == 2
    assert "no district files (*.yaml) found" in _one_error_line(capsys.readouterr().err)


def test_check_config_honours_env_var(tmp_path, capsys, monkeypatch):
    root = copy_include(tmp_path)
    _tweak_district(root, source__wait_for="3 hours")
    monkeypatch.setenv("ROSTER_INCLUDE_DIR", str(root))
    assert main(["check-config"]) == 2
    assert "key 'source.wait_for': '3 hours' is not a duration" in _one_error_line(capsys.readouterr().err)


def test_unknown_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "invalid choice: 'frobnicate'" in line
    assert line.endswith("(see roster --help)")


# The real command, as a user runs it --------------------------------------------------------------


def _roster(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "ROSTER_INCLUDE_DIR"}
    full_env.update(env or {})
    return subprocess.run(
        [str(ROSTER_BIN), *args], capture_output=True, text=True, cwd=REPO, env=full_env, timeout=120, check=False
    )


def test_roster_command_run_and_error(tmp_path):
    assert ROSTER_BIN.exists()
    ok = _roster(*_run_args(tmp_path / "out"))
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr == ""
    assert (tmp_path / "out" / OUTPUT_NAME).is_file()

    export = write_export(tmp_path, [row()], header=[h for h in HEADER if h != "DOB"])
    bad = _roster(*_run_args(tmp_path / "bad", input=export))
    assert bad.returncode == 2
    line = _one_error_line(bad.stderr)
    assert f"{export}: line 1: required column 'DOB' (date_of_birth) is missing from the header" in line
    assert bad.stdout == ""


def test_roster_command_env_var_and_check_config(tmp_path):
    root = copy_include(tmp_path)
    _tweak_district(root, qa__max_reject_rate=0.01)
    failed = _roster(*_run_args(tmp_path / "out"), env={"ROSTER_INCLUDE_DIR": str(root)})
    assert failed.returncode == 1, failed.stderr
    assert failed.stdout.startswith("QA failed:")
    assert not (tmp_path / "out" / OUTPUT_NAME).exists()

    path = _tweak_district(root, start_date="someday")
    broken = _roster("check-config", env={"ROSTER_INCLUDE_DIR": str(root)})
    assert broken.returncode == 2
    assert f"{path}: key 'start_date':" in _one_error_line(broken.stderr)


# Privacy -------------------------------------------------------------------------------------------------


def test_no_names_or_birth_dates_leave_the_run(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_run_args(out)) == 0
    captured = capsys.readouterr()

    with SAMPLE_EXPORT.open(encoding="utf-8", newline="") as handle:
        students = list(csv.DictReader(handle))
    rejected = {int(r["row_number"]) for r in csv.DictReader((out / "rejects.csv").open(encoding="utf-8"))}
    assert len(rejected) == 14
    secrets = set()
    for number in rejected:
        student = students[number - 2]
        secrets.add(student["DOB"])
        for name in (student["FIRST_NAME"], student["MIDDLE_NAME"], student["LAST_NAME"]):
            secrets.update(part for part in name.split("|") if len(part) >= 5)
    # Every student's full date of birth is distinctive (MM/DD/YYYY); none may appear either.
    secrets.update(s["DOB"] for s in students if len(s["DOB"]) >= 8)
    assert "02/30/2012" in secrets and "01/15/1990" in secrets and "Smith" in secrets

    texts = {
        "stdout": captured.out,
        "stderr": captured.err,
        **{p.name: p.read_text(encoding="utf-8") for p in out.iterdir() if p.name != OUTPUT_NAME},
    }
    assert {"qa_report.json", "rejects.csv"} <= set(texts)
    for where, text in texts.items():
        leaked = sorted(s for s in secrets if s in text)
        assert not leaked, f"{where} holds {leaked}"
