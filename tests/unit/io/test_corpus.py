"""The corpus of broken exports (``tests/corpus/``): every file gets its verdict from ``roster run``.

Fatal cases: exit 2, one ``error:`` line naming the file and where, no traceback, nothing written.
Row-level cases: the rows are rejected with their reasons and the night goes on under its threshold.
The cases and their verdicts are listed in ``tests/corpus/generate.py`` (and its README.md).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from domain_fixtures import INCLUDE, OUTPUT_NAME, ROSTER_BIN, copy_include, district_data, set_key, write_district
from roster.cli import main

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
_spec = importlib.util.spec_from_file_location("corpus_generate", CORPUS / "generate.py")
generate = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = generate
_spec.loader.exec_module(generate)

CASES = generate.CASES
FILES = generate.build()


def _case_id(case) -> str:
    return case.name.removesuffix(".csv") + (
        "" if not case.district else "+" + "+".join(k.split(".")[-1] for k in case.district)
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The corpus files: the committed ones as they are, the big one written here."""
    folder = tmp_path_factory.mktemp("corpus")
    for name, data in FILES.items():
        committed = CORPUS / name
        (folder / name).write_bytes(committed.read_bytes() if committed.exists() else data)
    return folder


def _include_for(case, tmp_path: Path) -> Path:
    if not case.district:
        return INCLUDE
    root = copy_include(tmp_path)
    data = district_data()
    for key, value in case.district.items():
        set_key(data, key, value)
    write_district(root, data)
    return root


def _run(case, corpus: Path, tmp_path: Path, capsys) -> tuple[int, str, str, Path]:
    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--district",
            "sample_isd",
            "--input",
            str(corpus / case.name),
            "--out",
            str(out),
            "--date",
            generate.DAY.isoformat(),
            "--include-dir",
            str(_include_for(case, tmp_path)),
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err, out


def _names_and_birth_dates() -> set[str]:
    """The corpus's names and dates of birth (from the generated good rows): never in an error line."""
    rows = generate.generate_rows(generate.ROWS, generate.DAY, seed=11, broken=False)
    return {r[h] for r in rows for h in ("FIRST_NAME", "LAST_NAME", "DOB") if len(r[h]) > 3}


def _birth_dates() -> set[str]:
    """The dates of birth of the corpus's students (every file is made of the generated good rows),
    whatever column a broken file puts them in."""
    rows = generate.generate_rows(generate.ROWS, generate.DAY, seed=11, broken=False)
    return {r["DOB"] for r in rows}


def _rejects(out: Path) -> set[tuple[int, str, str]]:
    with (out / "rejects.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {(int(r["row_number"]), r["field"], r["reason"]) for r in rows}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_verdict(case, corpus, tmp_path, capsys):
    code, stdout, stderr, out = _run(case, corpus, tmp_path, capsys)
    assert code == case.exit_code, (stdout, stderr)
    assert "Traceback" not in stderr + stdout
    if case.verdict == "fatal":
        lines = stderr.strip().splitlines()
        assert len(lines) == 1, stderr
        assert lines[0].startswith(f"error: {corpus / case.name}: "), lines[0]
        for part in case.message:
            assert part in lines[0], (part, lines[0])
        for value in _names_and_birth_dates():
            assert value not in lines[0], "an error line quotes a student's name or date of birth"
        assert stdout == ""
        # Nothing half done: no roster file, no report, no rejects; not even the folder.
        assert not out.exists() or not any(out.iterdir())
        return

    assert stderr == ""
    rejects_text = (out / "rejects.csv").read_text(encoding="utf-8")
    for born in _birth_dates():
        assert born not in rejects_text, "rejects.csv holds a student's date of birth"
    report = json.loads((out / "qa_report.json").read_text(encoding="utf-8"))
    assert report["rows_read"] == case.rows_read
    assert report["notes"] == list(case.notes)
    assert _rejects(out) == set(case.rejects)
    assert report["rows_rejected"] == len({row for row, _, _ in case.rejects})
    delivered = out / OUTPUT_NAME
    if case.verdict in ("rejected", "clean"):
        assert report["passed"] is True
        lines = delivered.read_bytes().split(b"\r\n")
        assert len([line for line in lines[1:] if line]) == case.rows_read - report["rows_rejected"]
        if case.verdict == "clean":
            # Read from the outputs, not the case table: rejects.csv holds its header only, and every
            # row read is in the roster file.
            assert len(rejects_text.splitlines()) == 1 and report["rejects_by_reason"] == {}
            assert len([line for line in lines[1:] if line]) == report["rows_read"]
    else:
        assert report["passed"] is False
        assert not delivered.exists()


def test_ragged_rows_keep_the_students_after_them(corpus, tmp_path, capsys):
    """A stray delimiter rejects its own row only: every other student is delivered, in id order."""
    case = next(c for c in CASES if c.name == "ragged_rows.csv")
    code, _, _, out = _run(case, corpus, tmp_path, capsys)
    assert code == 0
    ids = [line.split(b"|")[0] for line in (out / OUTPUT_NAME).read_bytes().split(b"\r\n")[1:] if line]
    assert len(ids) == generate.ROWS - 3 and ids == sorted(ids)


def test_unterminated_quote_loses_no_student_silently(corpus, tmp_path, capsys):
    """Without the check, the rows after the open quote would vanish into one rejected row while QA passed."""
    case = next(c for c in CASES if c.name == "unterminated_quote.csv")
    code, _, stderr, out = _run(case, corpus, tmp_path, capsys)
    assert code == 2 and f"{generate.ROWS + 1 - 11} line(s) after it" in stderr
    assert not out.exists()


def test_fatal_input_in_a_real_process(corpus, tmp_path):
    """The installed ``roster`` command: exit 2, one line on stderr, no traceback, no output folder."""
    out = tmp_path / "out"
    env = dict(os.environ, ROSTER_INCLUDE_DIR=str(INCLUDE))
    command = [str(ROSTER_BIN)] if ROSTER_BIN.exists() else [sys.executable, "-m", "roster.cli"]
    result = subprocess.run(
        [
            *command,
            "run",
            "--district",
            "sample_isd",
            "--input",
            str(corpus / "excel_workbook.csv"),
            "--out",
            str(out),
            "--date",
            "2026-11-20",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,  # the exit code is what is tested
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Excel workbook" in lines[0]
    assert not out.exists()


def test_committed_corpus_is_the_generated_one():
    """The files in tests/corpus/ are what generate.py writes (run it after changing a case)."""
    for case in CASES:
        if case.committed:
            assert (CORPUS / case.name).read_bytes() == FILES[case.name], case.name
    assert (CORPUS / "README.md").read_text(encoding="utf-8") == generate.readme()
