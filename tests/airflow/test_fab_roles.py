"""scripts/fab_roles.py against a real FAB database: the admin from the environment, the
roster-reviewer role, idempotence, and what the role lets FAB's auth manager allow.

Runs in a subprocess with its own AIRFLOW_HOME (the FAB auth manager configured, unlike the rest of
the suite): `airflow db migrate`, then the script as airflow-init runs it, then FabAuthManager's own
authorization calls for a user holding the role. `make e2e` checks the same over HTTP.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash

from conftest import REPO

FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
PASSWORD = "admin-pw-sentinel-7f3a"

# Prints a JSON object: what FabAuthManager allows a roster-reviewer user, and the admin's state.
PROBE = """
import json
from airflow.api_fastapi.auth.managers.models.resource_details import (
    ConnectionDetails, DagAccessEntity, DagDetails, VariableDetails)
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager
from werkzeug.security import check_password_hash

with get_application_builder() as ab:
    sm = ab.sm
    user = sm.find_user(username="rev") or sm.add_user(
        "rev", "R", "Viewer", "rev@localhost", sm.find_role("roster-reviewer"), "pw")
    am = FabAuthManager()
    dag = DagDetails(id="roster_sample_isd")
    other = DagDetails(id="not_a_roster_dag")
    admin = sm.find_user(username="admin")
    print(json.dumps({
        "connection": am.is_authorized_connection(method="GET", user=user, details=ConnectionDetails(conn_id="rethink_sftp")),
        "connections": am.is_authorized_connection(method="GET", user=user),
        "variable": am.is_authorized_variable(method="GET", user=user, details=VariableDetails(key="k")),
        "edit_variable": am.is_authorized_variable(method="PUT", user=user, details=VariableDetails(key="k")),
        "dag": am.is_authorized_dag(method="GET", user=user, details=dag),
        "other_dag": am.is_authorized_dag(method="GET", user=user, details=other),
        "runs": am.is_authorized_dag(method="GET", user=user, access_entity=DagAccessEntity.RUN, details=dag),
        "logs": am.is_authorized_dag(method="GET", user=user, access_entity=DagAccessEntity.TASK_LOGS, details=dag),
        "hitl_list": am.is_authorized_dag(method="GET", user=user, access_entity=DagAccessEntity.HITL_DETAIL),
        "hitl_answer": am.is_authorized_dag(method="PUT", user=user, access_entity=DagAccessEntity.HITL_DETAIL, details=dag),
        "trigger": am.is_authorized_dag(method="POST", user=user, access_entity=DagAccessEntity.RUN, details=dag),
        "clear": am.is_authorized_dag(method="PUT", user=user, access_entity=DagAccessEntity.TASK_INSTANCE, details=dag),
        "rosters_view": am.is_authorized_custom_view(method="GET", resource_name="Rosters", user=user),
        "admin_roles": [r.name for r in admin.roles],
        "admin_password_ok": check_password_hash(admin.password, "%s"),
    }))
"""


@pytest.fixture(scope="module")
def fab_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("fab-home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__AUTH_MANAGER": FAB,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "ROSTER_INCLUDE_DIR": str(REPO / "include"),
        "PYTHONPATH": str(REPO / "plugins"),
    }
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return env


def _roles(env: dict[str, str], password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    script = REPO / "scripts" / "fab_roles.py"
    run_env = {**env, "AIRFLOW_ADMIN_PASSWORD": password}
    return subprocess.run(
        [sys.executable, str(script)], env=run_env, capture_output=True, text=True, timeout=300, check=False
    )


def _probe(env: dict[str, str], password: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE % password], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_reviewer_role_and_admin(fab_env: dict[str, str]) -> None:
    first = _roles(fab_env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "admin user admin: created" in first.stdout
    again = _roles(fab_env)
    assert "0 permission(s) added, 0 removed" in again.stdout and "admin user admin: unchanged" in again.stdout
    for done in (first, again):
        assert PASSWORD not in done.stdout + done.stderr  # never printed, not even in FAB's own logs

    got = _probe(fab_env, PASSWORD)
    assert got["admin_roles"] == ["Admin"] and got["admin_password_ok"] is True
    # Connections and variables: nothing, not even read.
    assert got["connection"] is got["connections"] is got["variable"] is got["edit_variable"] is False
    # The roster DAGs, their runs and logs, Required Actions (list and answer), the Rosters view.
    for key in ("dag", "runs", "logs", "hitl_list", "hitl_answer", "rosters_view"):
        assert got[key] is True, key
    # Only roster DAGs; no triggering or clearing.
    assert got["other_dag"] is got["trigger"] is got["clear"] is False


def test_password_in_env_is_the_source_and_required(fab_env: dict[str, str]) -> None:
    changed = _roles(fab_env, password="rotated-" + PASSWORD)
    assert changed.returncode == 0 and "password reset from AIRFLOW_ADMIN_PASSWORD" in changed.stdout
    db = fab_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    with closing(sqlite3.connect(db)) as conn:
        (stored,) = conn.execute("SELECT password FROM ab_user WHERE username = 'admin'").fetchone()
    assert check_password_hash(stored, "rotated-" + PASSWORD)
    missing = _roles(fab_env, password="")
    assert missing.returncode == 2 and missing.stderr.strip() == (
        "error: AIRFLOW_ADMIN_PASSWORD is empty (make compose-env writes it to .env)"
    )
