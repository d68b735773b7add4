#!/usr/bin/env bash
# make fleet: FLEET_DISTRICTS (24) districts' nights at once on the topology `make e2e` starts
# (scripts/topology.sh), measured; prints the numbers and writes docs/SCALE.md.
#
# The districts are the sample district under ids fleet_01..fleet_NN, each with its own export of
# 1,500-2,000 rows (devtools.sample, a seed per district), in a copy of include/ under var/fleet/.
# All nights are triggered through the REST API for one roster date (2026-11-20); the wait ends
# when every run has finished, then each roster must be on the SFTP server.
#
#   FLEET_EXECUTOR=celery  (default) the compose file's CeleryExecutor, FLEET_WORKERS (2) workers of
#                          concurrency 1
#   FLEET_EXECUTOR=local   LocalExecutor, parallelism 8, tasks run under the scheduler (no workers)
#   FLEET_TIMEOUT          seconds to wait for the fleet (default 900 + 60 per district)
#   FLEET_REPORT           where the report goes (default docs/SCALE.md; empty: print only)
#   FLEET_NOTE             a line for the report (e.g. what else the machine was doing)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
VAR=${FLEET_VAR:-$REPO/var/fleet}
PY=$REPO/.venv/bin/python
AIRFLOW=$REPO/.venv/bin/airflow
COUNT=${FLEET_DISTRICTS:-24}
EXECUTOR=${FLEET_EXECUTOR:-celery}
WORKERS=${FLEET_WORKERS:-2}
NIGHT=2026-11-20
LOGICAL=${NIGHT}T08:00:00Z   # 02:00 in America/Chicago: the sample district's night of 2026-11-20
TIMEOUT=${FLEET_TIMEOUT:-$((900 + 60 * COUNT))}
REPORT=${FLEET_REPORT-docs/SCALE.md}
T0=$(date +%s)
TOPOLOGY=fleet
# shellcheck source=scripts/topology.sh
source scripts/topology.sh

[ -x "$AIRFLOW" ] || die "no .venv; run through 'make fleet' (it creates the virtualenv first)"
case $EXECUTOR in
  celery) ;;
  local) WORKERS=0 ;;
  *) die "FLEET_EXECUTOR=$EXECUTOR: use celery or local" ;;
esac
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "fleet of $COUNT districts, $EXECUTOR executor$([ "$WORKERS" = 0 ] || echo ", $WORKERS workers"); load average $LOAD_BEFORE on $(nproc) cores"

topology_packages
topology_state "$WORKERS"
trap cleanup EXIT
trap 'exit 130' INT TERM
topology_postgres
topology_redis
topology_servers

PYTHONPATH=$REPO "$PY" scripts/fleet_run.py districts --include "$REPO/include" --out "$VAR/include" \
  --count "$COUNT" --date "$NIGHT"

topology_airflow_env
if [ "$EXECUTOR" = local ]; then
  cat >>"$VAR/env/native.env" <<EOT
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__PARALLELISM=8
EOT
fi
topology_airflow_init
topology_airflow_services
if [ "$WORKERS" -gt 0 ]; then
  topology_workers "$WORKERS"
  topology_wait_workers "$WORKERS"
fi

services=()
for name in "${ORDER[@]}"; do services+=(--service "$name=${PIDS[$name]}"); done
RUN_ID=fleet_$(date +%Y%m%dT%H%M%S)
set +e
FLEET_DB_URL="postgresql+psycopg2://airflow:$POSTGRES_PASSWORD@127.0.0.1:$PG_PORT/airflow" \
AIRFLOW_ADMIN_PASSWORD=$ADMIN_PASSWORD "$PY" scripts/fleet_run.py measure \
  --api "http://127.0.0.1:$API_PORT" --user "$AIRFLOW_ADMIN_USER" --password-env AIRFLOW_ADMIN_PASSWORD \
  --count "$COUNT" --logical-date "$LOGICAL" --run-id "$RUN_ID" --timeout "$TIMEOUT" \
  --executor "$EXECUTOR" --workers "$WORKERS" \
  --sftp-root "$VAR/servers/sftp/upload" --airflow-logs "$VAR/airflow/logs" \
  --pg-pid-file "$PGBASE/data/postmaster.pid" --log-dir "$LOGS" --out "$VAR/fleet.json" "${services[@]}"
status=$?
set -e
[ -f "$VAR/fleet.json" ] || exit "$status"
"$PY" scripts/fleet_report.py "$VAR/fleet.json" ${REPORT:+--out "$REPORT"} \
  --load-before "$LOAD_BEFORE" --note "${FLEET_NOTE:-}"
exit "$status"
