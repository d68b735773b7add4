"""The runbook covers every failure the on-call emails point to, and the issue's list of failures."""

from __future__ import annotations

import datetime as dt
import re
import shlex

import pytest

from conftest import INCLUDE, REPO

RUNBOOK = (REPO / "docs" / "RUNBOOK.md").read_text(encoding="utf-8")
HEADINGS = set(re.findall(r"^## (.+)$", RUNBOOK, flags=re.MULTILINE))


def test_every_section_an_oncall_email_names_exists() -> None:
    from roster.airflow.notifications import RUNBOOK_SECTIONS

    assert set(RUNBOOK_SECTIONS.values()) | {"Other failures"} <= HEADINGS


@pytest.mark.parametrize("task_id", ["notify_qa_failure", "notify_summary"])
def test_an_email_not_sent_points_to_the_smtp_section(task_id: str) -> None:
    """A QA-failure email or a summary the mail server refused is a mail problem, whatever the task."""
    from roster.airflow.hooks.smtp import MailNotSent
    from roster.airflow.notifications import runbook_section

    refused = MailNotSent("SMTP connection 'smtp_default' (mail.example.org:587): could not send '[roster] ...'")
    assert runbook_section(task_id, refused) == "SMTP down"
    section = RUNBOOK.split("\n## SMTP down\n", 1)[1].split("\n## ", 1)[0]
    assert f"`{task_id}`" in section
    # Any other failure of the QA task is a QA one.
    assert runbook_section("notify_qa_failure", RuntimeError("QA failed")) == "QA failed"
    assert "QA failed" in HEADINGS


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


def _backfill_command() -> list[str]:
    """The runbook's ``airflow backfill create`` example, as the shell would split it (without ``airflow``)."""
    blocks = re.findall(r"```sh\n(.*?)```", RUNBOOK, flags=re.DOTALL)
    commands = [b.replace("\\\n", " ").strip() for b in blocks if "airflow backfill create" in b]
    assert len(commands) == 1, commands
    return shlex.split(commands[0].replace("roster_<id>", "roster_sample_isd"))[1:]


NIGHTS = [dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2026, 11, 20)]


def planned_nights(words: list[str]) -> list[dt.date]:
    """The roster dates ``airflow backfill create`` would run for these words: Airflow's own CLI parser and
    backfill planner, against the sample district's real DAG (serialized, as the command reads it)."""
    from airflow.cli import cli_parser
    from airflow.models.backfill import _get_info_list
    from airflow.serialization.serialized_objects import DagSerialization

    from roster.airflow.nightly import build_all
    from roster.config import load_district

    args = cli_parser.get_parser().parse_args(words)
    assert args.max_active_runs == 1 and not args.run_backwards
    # The plan leaves out nights not yet due: the pinned clock (conftest.PINNED_NOW) is after the example's.
    assert dt.datetime.now(dt.UTC) >= args.to_date, "PINNED_NOW is before the runbook example's last night"
    dag = DagSerialization.from_dict(DagSerialization.to_dict(build_all(INCLUDE)["roster_sample_isd"]))
    infos = _get_info_list(dag=dag, from_date=args.from_date, to_date=args.to_date, reverse=False)
    tz = load_district(INCLUDE / "districts" / "sample_isd.yaml").tz
    return [info.logical_date.astimezone(tz).date() for info in infos]


def test_the_backfill_example_runs_exactly_the_nights_it_names() -> None:
    assert all(f"{d:%Y-%m-%d}" in RUNBOOK for d in NIGHTS)
    assert planned_nights(_backfill_command()) == NIGHTS


def test_a_bare_to_date_would_miss_the_last_night() -> None:
    """Why the example gives times: the trap the runbook warns about is real on this timetable."""
    bare = [re.sub(r"T\d\d:\d\d:\d\d\+00:00$", "", w) for w in _backfill_command()]
    assert "2026-11-20" in bare
    assert planned_nights(bare) == NIGHTS[:2]


def test_the_runbook_answers_a_hold_over_the_hitl_route_airflow_serves() -> None:
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import task_instance_hitl_path, task_instances_hitl_router

    route = "/api/v2" + task_instances_hitl_router.prefix + task_instance_hitl_path
    expected = route.format(dag_id="roster_<id>", dag_run_id="<run_id>", task_id="review_hold", map_index=-1)
    assert f'"$API{expected}"' in RUNBOOK
    body = re.search(r"-d '(\{\"chosen_options\".*?\})'", RUNBOOK)
    assert body, "the PATCH's body"
    UpdateHITLDetailPayload.model_validate_json(body[1])
    assert "hold_timeout" in RUNBOOK and "airflow dags test" in RUNBOOK
