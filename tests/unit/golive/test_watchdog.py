"""The watchdog flags a live district that stopped delivering, and not a fresh, a QA-mode or a paused one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml

from roster.config import District, load_district
from roster.golive.watchdog import find_stale
from roster.night.snapshot import Delivery, write_snapshot

NOW = dt.datetime(2026, 11, 22, 14, 0, tzinfo=dt.UTC)


def _district(include: Path, district_id: str, **changes: object) -> District:
    config = yaml.safe_load((include / "districts" / "sample_isd.yaml").read_text())
    config.update(district_id=district_id, name=district_id.replace("_", " ").title(), **changes)
    path = include / "districts" / f"{district_id}.yaml"
    path.write_text(yaml.safe_dump(config))
    return load_district(path)


def _delivered(hours_ago: float) -> Delivery:
    at = NOW - dt.timedelta(hours=hours_ago)
    return Delivery(roster_date=at.date(), delivered_at=at, file="x")


def test_find_stale_edges(include_copy: Path) -> None:
    live = _district(include_copy, "late_isd")
    fresh = _district(include_copy, "fresh_isd")
    qa = _district(include_copy, "qa_isd", mode="qa")
    paused = _district(include_copy, "summer_isd", blackout=[{"start": "2026-11-01", "end": "2026-11-30"}])
    never = _district(include_copy, "never_isd")
    deliveries = {
        "late_isd": _delivered(36.5),
        "fresh_isd": _delivered(36.0),  # exactly at the limit: not stale
        "qa_isd": _delivered(500),
        "summer_isd": _delivered(500),
        "never_isd": None,
    }

    stale = find_stale([live, fresh, qa, paused, never], deliveries, NOW, 36)

    assert [s.district_id for s in stale] == ["late_isd", "never_isd"]
    assert stale[0].hours_since == 36.5 and "36 hours" in stale[0].message
    assert stale[1].last_delivered is None and "never delivered" in stale[1].message


@pytest.mark.e2e
def test_watchdog_dag_emails_oncall_about_the_stale_district_only(
    night_env: dict, include_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from roster.airflow.watchdog import build_watchdog_dag

    _district(include_copy, "fresh_isd")
    for twin in ("sample_isd_xlsx", "sample_isd_oneroster"):
        (include_copy / "districts" / f"{twin}.yaml").unlink()  # the one stale district is sample_isd
    frame = pd.DataFrame({"state_test_number": ["1"], "active": [True]})
    roster = night_env["data_root"] / "delivered.txt"
    roster.parent.mkdir(parents=True, exist_ok=True)
    roster.write_text("x")
    now = dt.datetime.now(dt.UTC)
    for district_id, hours in (("sample_isd", 40), ("fresh_isd", 2)):
        folder = night_env["data_root"] / district_id / "snapshot"
        folder.mkdir(parents=True)
        write_snapshot(
            folder,
            frame,
            (now - dt.timedelta(hours=hours)).date(),
            roster,
            delivered_at=now - dt.timedelta(hours=hours),
        )

    run = build_watchdog_dag(root=include_copy).test()

    assert str(run.state) == "success"
    [email] = night_env["smtp"].messages()
    assert email["To"] == "data-oncall@example.org"
    assert "1 district without a delivery for more than 36 hours" in email["Subject"]
    body = email.get_body(("html",)).get_content()
    assert "roster_sample_isd" in body and "roster_fresh_isd" not in body
    assert "RUNBOOK" in body
