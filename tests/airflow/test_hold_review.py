"""``review_hold``'s request on the Required Actions page links to the night itself in the Rosters view
(``roster.airflow.hold.rosters_url``): the district's page, at that night's row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from domain_fixtures import SAMPLE_EXPORT
from roster.airflow.hold import rosters_url
from roster.cli import main
from roster.config import find_district, include_root
from roster.night.qa import load_report
from roster.notify.emails import hold_review

DAY = dt.date(2026, 11, 21)


def test_the_link_is_the_nights_row_under_the_api_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.org/")
    assert rosters_url("sample_isd", DAY) == "https://airflow.example.org/rosters/sample_isd#night-2026-11-21"
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "")
    assert rosters_url("sample_isd", DAY) == ""


def test_the_body_links_to_the_night(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    out = tmp_path / "sample_isd" / DAY.isoformat()
    args = ["run", "--district", "sample_isd", "--input", str(SAMPLE_EXPORT), "--out", str(out), "--date", "2026-11-21"]
    assert main(args) == 0
    capsys.readouterr()
    report = load_report(out)
    district = find_district(include_root(), "sample_isd")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.org")
    link = rosters_url("sample_isd", DAY)

    _, body = hold_review(include_root(), district, report, [], link)
    assert f"This night in the Rosters view: [{link}]({link})" in body
    assert link == "https://airflow.example.org/rosters/sample_isd#night-2026-11-21"

    _, without = hold_review(include_root(), district, report, [], "")
    assert "Rosters view" not in without
