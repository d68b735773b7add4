#!/usr/bin/env bash
# Airflow standalone with the loopback SFTP and SMTP servers, to browse the DAGs, trigger a night and
# read its logs in the UI. Ctrl-C stops everything. Development only: Airflow's simple auth manager
# (one admin, password printed); the compose stack and make e2e use FAB (README "Users and roles").
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
VAR=${VAR:-$REPO/var/up}
mkdir -p "$VAR"
source "$REPO/scripts/servers.sh"
local_airflow_env "$REPO" "$VAR"
start_servers "$VAR/servers"
# The pools of include/pools.yaml before the scheduler queues a task in one (standalone migrates an
# empty database itself; migrating first is what lets the pools go in).
.venv/bin/airflow db migrate >"$VAR/db-migrate.log" 2>&1 || { tail -n 20 "$VAR/db-migrate.log" >&2; exit 2; }
.venv/bin/roster pools
echo "== Airflow standalone: UI on http://localhost:8080 (the admin password is printed below and kept in $AIRFLOW_HOME)"
echo "   Rosters view (every district's nights, holds and failures): http://localhost:8080/rosters/"
echo "   Trigger roster_sample_isd with logical date 2026-11-20T08:00:00Z to use the sample export."
# standalone starts its components as `airflow ...` subprocesses: the venv must be on PATH.
export PATH="$REPO/.venv/bin:$PATH"
airflow standalone
