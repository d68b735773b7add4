#!/usr/bin/env bash
# make e2e: the docker-compose.yaml topology started natively (no container engine needed), one
# district night triggered through Airflow's REST API and checked.
#
#   PostgreSQL  a private cluster (initdb as the postgres user) on a free loopback port
#   Redis       redis-server on a free loopback port, no persistence
#   Airflow     `airflow db migrate` and scripts/fab_roles.py (airflow-init: FAB's tables, the admin,
#               the roster-reviewer role), then scheduler, dag-processor, triggerer,
#               api-server and TWO Celery workers, each with its compose service's environment and
#               command, read from docker-compose.yaml by scripts/compose_env.py
#   SFTP, SMTP  the project's loopback servers (python -m devtools.servers)
#
# Each worker runs in its own UTS namespace with its own hostname (worker1, worker2), as each worker
# container has its own; where namespaces are not allowed, [core] hostname_callable gives each its
# name instead. The workers run one task at a time and share ROSTER_DATA_ROOT (a local folder: on one
# machine that is what a shared volume is).
#
# Differences from the containers, all about place rather than behaviour: service names become
# 127.0.0.1:<free port>, /opt/airflow/* become the repository's folders and var/e2e/, the api-server
# listens on loopback, and the scheduler creates no cron runs (use_job_schedule=False) so that the
# triggered night is the only one. After that night, a backfill of the three nights after it
# (POST /api/v2/backfills, one run at a time) must run them in date order and deliver each. The
# include root is a copy of include/ with those nights' exports added. Everything lives in var/e2e/ (logs in var/e2e/logs/), and
# everything started is stopped on exit, pass or fail. The starting and the stopping are
# scripts/topology.sh's, shared with make fleet.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
VAR=${E2E_VAR:-$REPO/var/e2e}
PY=$REPO/.venv/bin/python
AIRFLOW=$REPO/.venv/bin/airflow
DISTRICT=sample_isd
DAG_ID=roster_$DISTRICT
NIGHT=2026-11-20
LOGICAL=${NIGHT}T08:00:00Z   # 02:00 in America/Chicago: the sample district's night of 2026-11-20
EXPORT=include/inbound/$DISTRICT/roster_${NIGHT//-/}.csv
ROSTER_FILE=${DISTRICT}_roster_${NIGHT//-/}.txt
TIMEOUT=${E2E_TIMEOUT:-600}
BACKFILL_NIGHTS="2026-11-21 2026-11-22 2026-11-23"
T0=$(date +%s)
TOPOLOGY=e2e
# shellcheck source=scripts/topology.sh
source scripts/topology.sh

[ -x "$AIRFLOW" ] || die "no .venv; run through 'make e2e' (it creates the virtualenv first)"

topology_packages
topology_state 2
trap cleanup EXIT
trap 'exit 130' INT TERM
topology_postgres
topology_redis
topology_servers

# --- the include root: include/ plus the exports of the backfilled nights -------------------------
rm -rf "$VAR/include"
cp -r "$REPO/include" "$VAR/include"
for day in $BACKFILL_NIGHTS; do
  cp "$REPO/$EXPORT" "$VAR/include/inbound/$DISTRICT/roster_${day//-/}.csv"
done

topology_airflow_env
topology_airflow_init
topology_airflow_services
topology_workers 2

# Meanwhile: the same export through the offline transform, the reference for the delivered bytes.
"$REPO/.venv/bin/roster" run --district "$DISTRICT" --input "$EXPORT" --out "$VAR/offline" \
  --date "$NIGHT" --include-dir "$VAR/include" >"$LOGS/roster-run-offline.log" 2>&1 ||
  say "offline roster run exited $? (see $LOGS/roster-run-offline.log)"

topology_wait_workers 2

services=()
for name in "${ORDER[@]}"; do services+=(--service "$name=${PIDS[$name]}"); done
set +e
AIRFLOW_ADMIN_PASSWORD=$ADMIN_PASSWORD "$PY" scripts/e2e_check.py \
  --api "http://127.0.0.1:$API_PORT" \
  --user "$AIRFLOW_ADMIN_USER" --password-env AIRFLOW_ADMIN_PASSWORD \
  --dag-id "$DAG_ID" --logical-date "$LOGICAL" --run-id "e2e_$(date +%Y%m%dT%H%M%S)" \
  --timeout "$TIMEOUT" \
  --delivered "$VAR/servers/sftp/upload/$DISTRICT/$ROSTER_FILE" \
  --expected "$VAR/offline/$ROSTER_FILE" \
  --expected-report "$VAR/offline/qa_report.json" \
  --run-folder "$VAR/roster-data/$DISTRICT/$NIGHT" \
  --backfill "$BACKFILL_NIGHTS" --sftp-dir "$VAR/servers/sftp/upload/$DISTRICT" \
  --snapshot "$VAR/roster-data/$DISTRICT/snapshot/snapshot.json" \
  --log-dir "$LOGS" "${services[@]}"
status=$?
set -e
# The admin password is in the environment of airflow-init and of this script only: never in a log.
if grep -rlF -- "$ADMIN_PASSWORD" "$LOGS" "$VAR/airflow/logs" 2>/dev/null; then
  echo "FAIL  the admin password appears in the log file(s) above" >&2
  status=1
else
  echo "PASS  the admin password appears in no log under $LOGS or $VAR/airflow/logs"
fi
exit "$status"
