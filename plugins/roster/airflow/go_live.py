"""The ``roster_go_live`` DAG: the go-live toolkit (``roster crossmatch``, ``reconcile``, ``announce``)
from Airflow's trigger form, for people who have the UI but no shell.

One manually triggered DAG for every district: its Params pick the district (the district files found
when the DAG file is parsed), the step and the step's inputs. Its one task
(``roster.airflow.tasks.go_live_step``) runs the same code as the CLI (``roster.golive.steps``) and
keeps the reports as run artifacts in ``ROSTER_DATA_ROOT/<district>/go-live/<run id>/``. Parsing
imports no pandas: the work is imported in the task.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Param

from roster.airflow import tasks
from roster.airflow.operators import python_task
from roster.config import district_files, include_root
from roster.golive.steps import STEPS

DAG_ID = "roster_go_live"


def _district_ids(root: Path) -> list[str]:
    """District ids from the file names only: cheap at parse time, and a broken file still shows."""
    return [p.stem for p in district_files(root)]


DOC = textwrap.dedent(
    """\
    ### Taking a district live

    Trigger this DAG with **Trigger DAG w/ config** and pick the district and the step. It runs the same
    code as the `roster` command and keeps the reports in
    `ROSTER_DATA_ROOT/<district>/go-live/<run id>/`; the task's log prints the counts and that folder.

    | step | inputs | writes | the same as |
    |---|---|---|---|
    | `crossmatch` | `sis_path` | `crossmatch_report.csv`, `missing_<table>.csv` | `roster crossmatch` |
    | `reconcile` | `sis_path`, `vendor_path` | `reconcile_report.csv` | `roster reconcile` |
    | `announce` | `send` | `announce_teachers.eml`, `announce_administrators.eml` (and sends them when `send`) | `roster announce` |

    Paths are absolute, relative to the include root, or `sftp://<conn_id>/<path>`.
    Findings (unmapped codes, clean-up rows) do not fail the run: read the reports. A run fails only when
    something cannot be read or sent; the error names the file, line or key.

    The order of going live: `crossmatch` until every code is mapped; `reconcile` until the vendor's roster
    matches the SIS; `mode: qa` nights for Rethink Ed's testing; `mode: live`; then `announce` with `send`.
    `roster status` shows where every district stands.
    """
)


def _params(district_ids: list[str]) -> dict[str, Param]:
    """The trigger form: the district (from the district files found at parse time), the step, its inputs."""
    district = (
        Param(
            district_ids[0],
            type="string",
            enum=district_ids,
            title="District",
            description="The district to take live (include/districts/<id>.yaml).",
        )
        if district_ids
        else Param(
            "", type="string", title="District", description="No district files were found when this DAG was parsed."
        )
    )
    return {
        "district": district,
        "step": Param(
            "crossmatch",
            type="string",
            enum=list(STEPS),
            title="Step",
            description="crossmatch, reconcile or announce.",
        ),
        "sis_path": Param(
            "",
            type="string",
            title="SIS export",
            description="For crossmatch and reconcile: the district's SIS export.",
        ),
        "vendor_path": Param(
            "", type="string", title="Vendor export", description="For reconcile: Rethink Ed's current roster export."
        ),
        "send": Param(
            False,
            type="boolean",
            title="Send the emails",
            description="For announce: send them, not only write the .eml previews.",
        ),
    }


def build_go_live_dag(root: Path | None = None) -> DAG:
    root = root or include_root()
    with DAG(
        dag_id=DAG_ID,
        description="Go-live toolkit: cross-match discovery, pre-go-live clean-up, announcement emails",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        tags=["roster", "rethink-ed", "go-live"],
        doc_md=DOC,
        default_args={"owner": "roster", "retries": 0},
        params=_params(_district_ids(root)),
    ) as dag:
        python_task(PythonOperator, tasks.go_live_step, root)
    return dag


__all__ = ["DAG_ID", "build_go_live_dag"]
