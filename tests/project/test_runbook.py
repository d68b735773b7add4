"""The runbook covers every failure the on-call emails point to, and the issue's list of failures."""

from __future__ import annotations

import re

from conftest import REPO

RUNBOOK = (REPO / "docs" / "RUNBOOK.md").read_text(encoding="utf-8")
HEADINGS = set(re.findall(r"^## (.+)$", RUNBOOK, flags=re.MULTILINE))


def test_every_section_an_oncall_email_names_exists() -> None:
    from roster.airflow.notifications import RUNBOOK_SECTIONS

    assert set(RUNBOOK_SECTIONS.values()) | {"Other failures"} <= HEADINGS


def test_the_runbook_covers_each_failure_and_how_to_fix_it() -> None:
    for heading in (
        "Export late or missing",
        "QA failed",
        "Held for review",
        "Superseded: older night not sent",
        "SFTP down, authentication or host key",
        "SMTP down",
        "Bad district file",
        "Backfilling missed nights",
        "Watchdog: no delivery",
    ):
        assert heading in HEADINGS
    assert "airflow backfill create --dag-id roster_<id>" in RUNBOOK
    assert '"chosen_options": ["Approve"]' in RUNBOOK and "Required Actions" in RUNBOOK
    assert '{"force_upload": true}' in RUNBOOK and '{"approve_hold": true}' in RUNBOOK
