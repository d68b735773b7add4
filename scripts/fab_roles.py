"""The FAB auth manager's users and roles for this deployment, created idempotently at init.

Run after `airflow db migrate` (which, with the FAB provider installed, also migrates FAB's tables),
in the Airflow environment of the stack (docker-compose.yaml's airflow-init, scripts/e2e.sh):

    AIRFLOW_ADMIN_PASSWORD=... python scripts/fab_roles.py [--include-dir DIR]

It
  * syncs FAB's built-in roles (Admin, Op, User, Viewer, Public), as the api-server does at start;
  * makes the role ``roster-reviewer`` hold exactly REVIEWER_PERMISSIONS plus, for every roster DAG
    (one per district file, the watchdog, go-live), read and edit on that DAG: read to see its runs,
    task instances and logs (and the Rosters view), edit because answering a hold
    (PATCH /api/v2/hitlDetails/...) needs edit on the DAG as well as on "HITL Detail". Permissions
    added to the role by hand are taken away again: the code is the role's definition;
  * creates the admin user AIRFLOW_ADMIN_USER (default ``admin``) with the Admin role and the
    password in AIRFLOW_ADMIN_PASSWORD, or, when the user exists, resets its password to that value
    if it differs (``.env`` is where the admin password lives).

The password is read from the environment only: never from argv (visible in ``ps``) and never
printed. A new district needs the role synced again: rebuilding the image and ``docker compose up``
reruns airflow-init.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path

ROLE = "roster-reviewer"

# The Rosters view (plugins/roster view) may check a custom view of this name; the role reads it.
ROSTERS_VIEW = "Rosters"

# (action, resource): FAB names, as in airflow.providers.fab.www.security.permissions. Read on the
# DAGs' sub-entities and their menus, answer Required Actions (HITL), change one's own password.
# Nothing on Connections, Variables, Pools, Config, XComs, Users or Roles; no creating or editing
# runs or task instances (no triggering, clearing or marking).
REVIEWER_PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("can_read", "DAG Runs"),
    ("can_read", "Task Instances"),
    ("can_read", "Task Logs"),
    ("can_read", "DAG Code"),
    ("can_read", "DAG Versions"),
    ("can_read", "DAG Warnings"),
    ("can_read", "DAG Dependencies"),
    ("can_read", "Assets"),
    ("can_read", "HITL Detail"),
    ("can_edit", "HITL Detail"),
    ("can_read", "Website"),
    ("can_read", "My Profile"),
    ("can_read", "My Password"),
    ("can_edit", "My Password"),
    ("can_read", ROSTERS_VIEW),
    ("menu_access", "Browse"),
    ("menu_access", "DAGs"),
    ("menu_access", "DAG Runs"),
    ("menu_access", "Task Instances"),
    ("menu_access", "Assets"),
    ("menu_access", "HITL Detail"),
)
DAG_ACTIONS = ("can_read", "can_edit")
# DAGs that are not a district's: their ids, as roster.airflow.watchdog and go_live define them.
OTHER_DAGS = ("roster_watchdog", "roster_go_live")

log = logging.getLogger("fab_roles")


class SetupError(Exception):
    """Something the operator must fix (a missing password); the message says what."""


def roster_dag_ids(include_dir: str | None) -> list[str]:
    """The DAG ids dags/ builds: one per district file under the include root, and the others."""
    from roster.airflow.nightly import dag_id_for
    from roster.config import district_files
    from roster.settings import include_root

    return sorted({dag_id_for(p) for p in district_files(include_root(include_dir))} | set(OTHER_DAGS))


def wanted_permissions(dag_ids: Iterable[str]) -> set[tuple[str, str]]:
    from airflow.providers.fab.www.security.permissions import RESOURCE_DAG, resource_name

    perms = set(REVIEWER_PERMISSIONS)
    for dag_id in dag_ids:
        perms.update((action, resource_name(dag_id, RESOURCE_DAG)) for action in DAG_ACTIONS)
    return perms


def sync_reviewer_role(sm, perms: set[tuple[str, str]]) -> tuple[int, int]:
    """Give the role exactly ``perms``; returns (added, removed)."""
    role = sm.find_role(ROLE) or sm.add_role(ROLE)
    have = {(p.action.name, p.resource.name): p for p in role.permissions if p.action and p.resource}
    added = removed = 0
    for action, resource in sorted(perms - have.keys()):
        sm.add_permission_to_role(role, sm.create_permission(action, resource))
        added += 1
    for key in sorted(have.keys() - perms):
        sm.remove_permission_from_role(role, have[key])
        removed += 1
    return added, removed


def ensure_admin(sm, username: str, password: str, email: str) -> str:
    """Create the admin, or bring an existing one's role and password in line; returns what was done."""
    from werkzeug.security import check_password_hash

    admin_role = sm.find_role("Admin")
    user = sm.find_user(username=username)
    if user is None:
        sm.add_user(username, "Airflow", "Admin", email, admin_role, password)
        return "created"
    done = []
    if admin_role not in user.roles:
        user.roles = [*user.roles, admin_role]
        sm.update_user(user)
        done.append("Admin role added")
    if not check_password_hash(user.password or "", password):
        sm.reset_password(user.id, password)
        done.append("password reset from AIRFLOW_ADMIN_PASSWORD")
    return ", ".join(done) or "unchanged"


def run(include_dir: str | None) -> None:
    password = os.environ.get("AIRFLOW_ADMIN_PASSWORD", "")
    if not password:
        raise SetupError("AIRFLOW_ADMIN_PASSWORD is empty (make compose-env writes it to .env)")
    username = os.environ.get("AIRFLOW_ADMIN_USER") or "admin"
    email = os.environ.get("AIRFLOW_ADMIN_EMAIL") or f"{username}@localhost"
    dag_ids = roster_dag_ids(include_dir)

    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        sm.sync_roles()
        added, removed = sync_reviewer_role(sm, wanted_permissions(dag_ids))
        print(f"role {ROLE}: {len(dag_ids)} DAG(s), {added} permission(s) added, {removed} removed")
        print(f"admin user {username}: {ensure_admin(sm, username, password, email)}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--include-dir", help="the include root (default: ROSTER_INCLUDE_DIR, else include/)")
    args = p.parse_args(argv)
    try:
        run(args.include_dir)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))
    sys.exit(main())
