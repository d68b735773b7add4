"""The typed ``QaReport`` reads and writes ``qa_report.json`` byte for byte, in every state a night ends in."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from conftest import INCLUDE
from domain_fixtures import copy_include, district_data, set_key, write_district
from roster.cli import main
from roster.night.pipeline import mark_superseded
from roster.night.qa import QaReport, load_report, save_report

EXPORT = INCLUDE / "inbound" / "sample_isd" / "roster_20261120.csv"


def _run(out: Path, day: str, *extra: str, export: Path = EXPORT) -> Path:
    main(["run", "--district", "sample_isd", "--input", str(export), "--out", str(out), "--date", day, *extra])
    return out


def _half_export(tmp_path: Path) -> Path:
    half = tmp_path / "half.csv"
    half.write_bytes(b"\r\n".join(EXPORT.read_bytes().split(b"\r\n")[:151]) + b"\r\n")
    return half


def _nights(tmp_path: Path) -> dict[str, Path]:
    passed = _run(tmp_path / "passed", "2026-11-20")
    delivered = passed / "sample_isd_roster_20261120.txt"
    half = _half_export(tmp_path)
    held = _run(tmp_path / "held", "2026-11-21", "--previous", str(delivered), export=half)
    approved = _run(tmp_path / "approved", "2026-11-21", "--previous", str(delivered), "--approve-hold", export=half)
    superseded = _run(tmp_path / "superseded", "2026-11-19")
    mark_superseded(superseded, dt.date(2026, 11, 20))
    include = copy_include(tmp_path)
    write_district(include, set_key(district_data(), "qa.max_reject_rate", 0.01))
    failed = _run(tmp_path / "failed", "2026-11-20", "--include-dir", str(include))
    return {"passed": passed, "held": held, "approved": approved, "superseded": superseded, "failed": failed}


def test_every_kind_of_night_round_trips_byte_for_byte(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    nights = _nights(tmp_path)
    capsys.readouterr()
    outcomes = {}
    for kind, folder in nights.items():
        written = (folder / "qa_report.json").read_bytes()
        report = load_report(folder)
        copy = tmp_path / "copies" / kind
        save_report(copy, report)
        assert (copy / "qa_report.json").read_bytes() == written, kind
        # The same bytes as the raw JSON re-encoded: every key survives the typed object, none is added.
        raw = json.loads(written)
        assert written.decode() == json.dumps(raw, indent=2, sort_keys=True) + "\n", kind
        assert QaReport.from_json(raw).to_json() == raw, kind
        outcomes[kind] = (report.outcome(), raw)
    assert {k: o for k, (o, _) in outcomes.items()} == {
        "passed": "passed",
        "held": "held",
        "approved": "passed",
        "superseded": "passed",
        "failed": "failed",
    }
    assert (
        outcomes["superseded"][1]["superseded_by"] == "2026-11-20" and outcomes["superseded"][1]["rows_delivered"] == 0
    )
    assert outcomes["approved"][1]["approved_by"] == "--approve-hold"
    assert outcomes["held"][1]["held"] is True and "approved_by" not in outcomes["held"][1]
    assert set(outcomes["failed"][1]) == {
        "district_id",
        "date",
        "passed",
        "rows_read",
        "rows_accepted",
        "rows_delivered",
        "rows_rejected",
        "rejects_by_reason",
        "max_reject_rate",
        "reject_rate",
        "verdict",
        "source_file",
        "output_file",
        "notes",
        "offending_values",
        "rows_merged",
        "crossmatch",
    }
    assert outcomes["failed"][1]["output_file"] is None and outcomes["failed"][1]["rows_merged"] == 0
    assert outcomes["failed"][1]["offending_values"]["unknown_grade"] == {"13": 1}


def test_a_report_written_before_offending_values_still_loads(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = _run(tmp_path / "night", "2026-11-20")
    capsys.readouterr()
    payload = json.loads((folder / "qa_report.json").read_text())
    del payload["offending_values"], payload["rows_merged"]
    report = QaReport.from_json(payload)
    assert report.offending_values == {} and report.rows_merged == 0


def test_an_unknown_key_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = _run(tmp_path / "night", "2026-11-20")
    capsys.readouterr()
    payload = json.loads((folder / "qa_report.json").read_text())
    with pytest.raises(ValueError, match=r"unknown key.*surprise"):
        QaReport.from_json({**payload, "surprise": 1})
