"""The ``roster_go_live`` DAG: the go-live toolkit (``roster crossmatch``, ``reconcile``, ``announce``)
from Airflow's trigger form, for people who have the UI but no shell.

One manually triggered DAG for every district: its Params pick the district (the district files found
when the DAG file is parsed), the step and the step's inputs. Its one task runs the same code as the
CLI (``roster.golive.steps``) and keeps the reports as run artifacts in
``ROSTER_DATA_ROOT/<district>/go-live/<run id>/``. Parsing imports no pandas: the work is imported in
the task.
"""

from __future__ import annotations

import logging
import re
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, get_current_context, task

from roster.io import store as storage
from roster.airflow.failing import fail_fast
from roster.config import district_files, include_root, resolve
from roster.errors import InputError

log = logging.getLogger("roster")

DAG_ID = "roster_go_live"
STEPS = ["crossmatch", "reconcile", "announce"]
GO_LIVE_FOLDER = "go-live"



def run_folder_name(run_id: str) -> str:
    """A run id as a folder name: ``manual__2026-11-20T08:00:00+00:00`` -> ``manual__2026-11-20T08-00-00-00-00``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", run_id).strip("-.") or "run"


def artifacts_key(district_id: str, run_id: str) -> str:
    return f"{district_id}/{GO_LIVE_FOLDER}/{run_folder_name(run_id)}"


def artifacts_location(key: str) -> str:
    root = storage.data_root()
    return f"{root.rstrip('/')}/{key}" if storage.is_url(root) else str(Path(root.removeprefix("file://")) / key)


def _input(root: Path, value: str, param: str, scratch: Path) -> Path:
    """A path param as a local file: absolute, relative to the include root, or ``sftp://<conn_id>/<path>``."""
    value = (value or "").strip()
    if not value:
        raise InputError(f"param {param!r} is empty; give the file's path (absolute, relative to the include root, or sftp://<conn_id>/<path>)")
    if value.startswith("sftp://"):
        from roster.airflow.hooks import sftp as transfer

        local = scratch / f"{param}_{Path(value).name}"
        try:
            transfer.fetch(value, local)
        except FileNotFoundError:
            raise InputError(f"{value}: not found (param {param!r})") from None
        return local
    return resolve(root, value)


def run_step(root: Path, params: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Run one go-live step for the trigger form's params; counts and file names for XCom."""
    from roster.golive import steps as golive
    from roster.airflow.hooks.smtp import send_or_fail

    district_id = str(params.get("district") or "")
    step = str(params.get("step") or "")
    if not district_id:
        raise InputError("param 'district' is empty; pick the district to take live")
    if step not in STEPS:
        raise InputError(f"param 'step' is {step!r}; expected one of {', '.join(STEPS)}")
    key = artifacts_key(district_id, run_id)
    with tempfile.TemporaryDirectory(prefix="roster-go-live-") as tmp, storage.workspace(key) as folder:
        scratch = Path(tmp)
        if step == "crossmatch":
            result = golive.crossmatch(root, district_id, _input(root, params.get("sis_path", ""), "sis_path", scratch), folder)
        elif step == "reconcile":
            sis = _input(root, params.get("sis_path", ""), "sis_path", scratch)
            vendor = _input(root, params.get("vendor_path", ""), "vendor_path", scratch)
            result = golive.reconcile(root, district_id, sis, vendor, folder)
        else:
            result = golive.announce(root, district_id, folder, send=send_or_fail if params.get("send") else None)
    location = artifacts_location(key)
    log.info("%s %s: %s", step, district_id, result.summary)
    for note in result.notes:
        log.info("%s", note.replace(str(folder), location))
    if result.exit_code:
        log.warning("%s found things for the district to fix: see %s", step, location)
    return {
        "district": district_id,
        "step": step,
        "exit_code": result.exit_code,
        "summary": result.summary,
        "location": location,
        "files": [p.name for p in result.files],
    }


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


def build_go_live_dag(root: Path | None = None) -> DAG:
    root = root or include_root()
    ids = _district_ids(root)
    district_param = (
        Param(ids[0], type="string", enum=ids, title="District", description="The district to take live (include/districts/<id>.yaml).")
        if ids
        else Param("", type="string", title="District", description="No district files were found when this DAG was parsed.")
    )
    with DAG(
        dag_id=DAG_ID,
        description="Go-live toolkit: cross-match discovery, pre-go-live clean-up, announcement emails",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        tags=["roster", "rethink-ed", "go-live"],
        doc_md=DOC,
        default_args={"owner": "roster", "retries": 0},
        params={
            "district": district_param,
            "step": Param("crossmatch", type="string", enum=STEPS, title="Step", description="crossmatch, reconcile or announce."),
            "sis_path": Param("", type="string", title="SIS export", description="For crossmatch and reconcile: the district's SIS export."),
            "vendor_path": Param("", type="string", title="Vendor export", description="For reconcile: Rethink Ed's current roster export."),
            "send": Param(False, type="boolean", title="Send the emails", description="For announce: send them, not only write the .eml previews."),
        },
    ) as dag:

        @task
        @fail_fast
        def go_live_step() -> dict[str, Any]:
            """Run the chosen step for the chosen district; the reports go to ROSTER_DATA_ROOT/<district>/go-live/<run id>/."""
            context = get_current_context()
            return run_step(root, dict(context["params"]), context["run_id"])

        go_live_step()
    return dag


__all__ = ["DAG_ID", "build_go_live_dag", "run_step", "run_folder_name"]
