"""What the roster-reviewer role may do, checked over the REST API of the running stack (`make e2e`).

scripts/fab_roles.py defines the role; scripts/e2e_check.py calls ``check_reviewer`` with a client
logged in as the FAB admin, after the night has run. A user with the role is created through FAB's
own API, logs in, and each request below must answer the status given: 403 where the role has no
right (connections, variables, triggering), 200 where it reads (the DAG, its run, task instances,
a task's log, Required Actions), and 404 on answering a hold that does not exist, which shows the
request got past authorization (403 comes first).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import httpx

ROLE = "roster-reviewer"
USERNAME = "e2e-reviewer"
PROBE_VARIABLE = "e2e_reviewer_probe"


def check_reviewer(
    admin: httpx.Client, dag_id: str, run_id: str, tis: list[dict[str, Any]], check: Callable[[str, bool, str], None]
) -> None:
    password = secrets.token_urlsafe(18)
    resp = admin.post(
        "/auth/fab/v1/users",
        json={
            "username": USERNAME,
            "email": f"{USERNAME}@localhost",
            "first_name": "E2E",
            "last_name": "Reviewer",
            "roles": [{"name": ROLE}],
            "password": password,
        },
    )
    check(f"admin creates a {ROLE} user (POST /auth/fab/v1/users)", resp.status_code in (200, 201), _said(resp))
    if resp.status_code not in (200, 201):
        return
    # Objects the admin can see, so that the reviewer's 403 is about the role, not a missing object.
    admin.post("/api/v2/variables", json={"key": PROBE_VARIABLE, "value": "not for reviewers"})
    for path in ("/api/v2/connections", f"/api/v2/variables/{PROBE_VARIABLE}"):
        resp = admin.get(path)
        check(f"admin reads GET {path}", resp.status_code == 200, _said(resp))

    token = admin.post("/auth/token", json={"username": USERNAME, "password": password})
    check(f"{USERNAME} logs in (POST /auth/token)", token.status_code in (200, 201), _said(token))
    if token.status_code not in (200, 201):
        return
    reviewer = httpx.Client(
        base_url=admin.base_url, timeout=30, headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    for method, path, body, want in _expectations(dag_id, run_id, tis):
        resp = reviewer.request(method, path, json=body)
        check(f"{ROLE}: {method} {path} -> {want}", resp.status_code == want, _said(resp))
    _check_rosters_view(admin, reviewer, check)


def _expectations(
    dag_id: str, run_id: str, tis: list[dict[str, Any]]
) -> list[tuple[str, str, dict[str, Any] | None, int]]:
    run = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"
    cases: list[tuple[str, str, dict[str, Any] | None, int]] = [
        ("GET", "/api/v2/connections", None, 403),
        ("GET", "/api/v2/connections/rethink_sftp", None, 403),
        ("GET", "/api/v2/variables", None, 403),
        ("GET", f"/api/v2/variables/{PROBE_VARIABLE}", None, 403),
        ("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"dag_run_id": "reviewer_probe", "logical_date": None}, 403),
        ("GET", f"/api/v2/dags/{dag_id}", None, 200),
        ("GET", run, None, 200),
        ("GET", f"{run}/taskInstances", None, 200),
        ("GET", f"/api/v2/dags/{dag_id}/dagRuns/~/hitlDetails", None, 200),
        ("PATCH", f"{run}/taskInstances/review_hold/-1/hitlDetails", {"chosen_options": ["Approve"]}, 404),
    ]
    ran = next((ti for ti in tis if ti.get("state") == "success" and ti.get("try_number")), None)
    if ran:
        cases.append(("GET", f"{run}/taskInstances/{ran['task_id']}/logs/{ran['try_number']}", None, 200))
    return cases


def _check_rosters_view(admin: httpx.Client, reviewer: httpx.Client, check: Callable[[str, bool, str], None]) -> None:
    """The Rosters view, where the plugin that serves it is installed."""
    path = "/rosters/api/districts"
    # Without the plugin the UI's catch-all answers 200 with its HTML page: only JSON means the view.
    if not _is_json(admin.get(path)):
        print(f"== {path} not served (no Rosters plugin here); not checked for {ROLE}")
        return
    resp = reviewer.get(path)
    check(f"{ROLE}: GET {path} -> 200 JSON", resp.status_code == 200 and _is_json(resp), _said(resp))


def _is_json(resp: httpx.Response) -> bool:
    return resp.status_code == 200 and resp.headers.get("content-type", "").startswith("application/json")


def _said(resp: httpx.Response) -> str:
    return f"{resp.status_code}" + ("" if resp.status_code < 400 else f" {resp.text[:160]}")
