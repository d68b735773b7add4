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
# include root is a copy of include/ with those nights' exports added.
#
# Then two fault drills (scripts/e2e_faults.py), each on a night of its own after the backfill:
#   worker     a Celery worker SIGKILLed in the middle of upload_roster (the SFTP link is throttled
#              for that upload only, through a loopback proxy in front of the SFTP server), then
#              restarted, as compose's `restart: always` would;
#   scheduler  the scheduler SIGKILLed once the night's export is extracted, then restarted;
#   database   PostgreSQL restarted (every metadata-database connection cut) in the middle of
#              upload_roster; a service that exits on it is restarted, as compose would, and named;
# each night must still end delivered exactly once: one final file, byte-identical to `roster run`
# offline, no temporary file left on the server, one asset event, one email, a consistent snapshot.
#
# Then the deferral drill (scripts/e2e_defer.py): a night whose export is late (not in the include
# root) must defer wait_for_export to the triggerer, while two other districts' nights (copies of the
# sample district, their exports there) run to success on both workers; then the export is written
# and the late night must resume and be delivered, its trigger gone.
# Every PASS/FAIL line counts into the closing `e2e: N passed, M failed`.
#
# Everything lives in var/e2e/ (logs in var/e2e/logs/), and everything started is stopped on exit,
# pass or fail. The starting and the stopping are scripts/topology.sh's, shared with make fleet.
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
DRILL_WORKER_NIGHT=2026-11-24      # a worker killed mid-upload
DRILL_SCHEDULER_NIGHT=2026-11-25   # the scheduler killed mid-night
DRILL_DATABASE_NIGHT=2026-11-26    # PostgreSQL restarted mid-upload
DRILL_TIMEOUT=${E2E_DRILL_TIMEOUT:-300}
DEFER_NIGHT=2026-11-27             # the deferral drill: this night's export is late
DEFER_OTHERS="other_isd_1 other_isd_2"   # districts whose exports for that night are there
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

# --- the SFTP link: through a loopback proxy the worker drill throttles for one upload ------------
THROTTLE=$VAR/sftp-throttle
SFTP_PORT=$("$PY" -c 'import json, os; print(json.loads(os.environ["AIRFLOW_CONN_RETHINK_SFTP"])["port"])')
start sftp-proxy "$PY" scripts/e2e_faults.py proxy --target-port "$SFTP_PORT" \
  --port-file "$VAR/sftp-proxy.port" --throttle "$THROTTLE"
for _ in $(seq 1 100); do [ -s "$VAR/sftp-proxy.port" ] && break; sleep 0.1; done
[ -s "$VAR/sftp-proxy.port" ] || die "the SFTP proxy did not start; see $LOGS/sftp-proxy.log"
AIRFLOW_CONN_RETHINK_SFTP=$("$PY" -c 'import json, os, sys
conn = json.loads(os.environ["AIRFLOW_CONN_RETHINK_SFTP"])
conn["port"] = int(sys.argv[1])
print(json.dumps(conn))' "$(cat "$VAR/sftp-proxy.port")")
export AIRFLOW_CONN_RETHINK_SFTP

# --- the include root: include/ plus the exports of the backfilled nights -------------------------
rm -rf "$VAR/include"
cp -r "$REPO/include" "$VAR/include"
for day in $BACKFILL_NIGHTS $DRILL_WORKER_NIGHT $DRILL_SCHEDULER_NIGHT $DRILL_DATABASE_NIGHT; do
  cp "$REPO/$EXPORT" "$VAR/include/inbound/$DISTRICT/roster_${day//-/}.csv"
done
# The deferral drill's other districts: the sample district under another id (its cross-match tables
# shared), each with its export of the drill's night. The late night's export is written by the drill.
for other in $DEFER_OTHERS; do
  sed -e "s#crossmatch: crossmatch/$DISTRICT\$#crossmatch: crossmatch/@@#" -e "s/$DISTRICT/$other/g" \
    -e "s#crossmatch: crossmatch/@@#crossmatch: crossmatch/$DISTRICT#" -e "s/^name: .*/name: Other ISD ${other##*_}/" \
    "$REPO/include/districts/$DISTRICT.yaml" >"$VAR/include/districts/$other.yaml"
  mkdir -p "$VAR/include/inbound/$other"
  cp "$REPO/$EXPORT" "$VAR/include/inbound/$other/roster_${DEFER_NIGHT//-/}.csv"
done

topology_airflow_env
cat >>"$VAR/env/native.env" <<'EOF'
# The worker drill: a worker killed mid-task leaves its task instance "running" until the scheduler
# sees no heartbeat from it for task_instance_heartbeat_timeout (default 300 s: five idle minutes per
# drill). 30 s, looked for every 5 s, is still six of the supervisors' 5-second heartbeats.
export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=30
export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL=5
# The scheduler drill: a restarted scheduler adopts (or resets) the dead one's queued and running
# task instances every orphaned_tasks_check_interval (default 300 s) once the dead one's heartbeat is
# scheduler_health_check_threshold (30 s) old.
export AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL=15
# The lost upload's retry then waits ROSTER_RETRY_DELAY_SECONDS (default 60 s) before it starts.
export ROSTER_RETRY_DELAY_SECONDS=5
# The deferral drill: the trigger looks for a late export every ROSTER_SENSOR_POKE_SECONDS (default
# 300 s). The interval is read where the DAG is parsed (dag-processor, and the task process on a worker,
# which hands it to the trigger it defers), so it is set for every service; the triggerer only obeys it.
export ROSTER_SENSOR_POKE_SECONDS=2
EOF
topology_airflow_init
topology_airflow_services
topology_workers 2

# Meanwhile: the same export through the offline transform, the reference for the delivered bytes.
"$REPO/.venv/bin/roster" run --district "$DISTRICT" --input "$EXPORT" --out "$VAR/offline" \
  --date "$NIGHT" --include-dir "$VAR/include" >"$LOGS/roster-run-offline.log" 2>&1 ||
  say "offline roster run exited $? (see $LOGS/roster-run-offline.log)"
for day in $DRILL_WORKER_NIGHT $DRILL_SCHEDULER_NIGHT $DRILL_DATABASE_NIGHT $DEFER_NIGHT; do
  "$REPO/.venv/bin/roster" run --district "$DISTRICT" --input "$EXPORT" --out "$VAR/offline-$day" \
    --date "$day" --include-dir "$VAR/include" >"$LOGS/roster-run-offline-$day.log" 2>&1 ||
    say "offline roster run for $day exited $? (see $LOGS/roster-run-offline-$day.log)"
done

topology_wait_workers 2

RESULTS=$LOGS/e2e-results.txt
: >"$RESULTS"
with_services() { services=(); for name in "${ORDER[@]}"; do services+=(--service "$name=${PIDS[$name]}"); done; }
# A check script, its output kept for the total; the admin password in its environment only.
checks() { AIRFLOW_ADMIN_PASSWORD=$ADMIN_PASSWORD "$PY" "$@" 2>&1 | tee -a "$RESULTS"; return "${PIPESTATUS[0]}"; }
result() { printf '%s  %s\n' "$1" "$2" | tee -a "$RESULTS"; }

with_services
set +e
checks scripts/e2e_check.py \
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
check_status=$?
set -e
[ "$check_status" = 0 ] || grep -q '^FAIL  ' "$RESULTS" || result FAIL "scripts/e2e_check.py exited $check_status"

# --- the fault drills -------------------------------------------------------------------------------
restart_killed() {  # the service a drill killed: started again as compose's restart policy would
  local name=$1 n ready=0 before
  case $name in
    worker*)
      before=$(grep -Ec "$name@[^ ]+ ready" "$LOGS/$name.log" || true)
      topology_restart "$name"
      for _ in $(seq 1 120); do
        [ "$(grep -Ec "$name@[^ ]+ ready" "$LOGS/$name.log" || true)" -gt "$before" ] && { ready=1; break; }
        kill -0 "${PIDS[$name]}" 2>/dev/null || break
        sleep 1
      done ;;
    scheduler)
      topology_restart scheduler
      for _ in $(seq 1 120); do
        curl -sf "http://127.0.0.1:$HEALTH_PORT/health" >/dev/null 2>&1 && { ready=1; break; }
        kill -0 "${PIDS[scheduler]}" 2>/dev/null || break
        sleep 1
      done ;;
  esac
  if [ "$ready" = 1 ]; then
    result PASS "[$DRILL] $name restarted, the topology whole again: pid ${PIDS[$name]}, ready after $(( $(date +%s) - T_KILL )) s"
  else
    result FAIL "[$DRILL] $name restarted: not ready after 120 s (see $LOGS/$name.log)"
  fi
}

# The database drill, with upload_roster in flight: restart PostgreSQL (fast: every session terminated),
# lift the SFTP throttle, then restart any service that exited on the lost connection, as compose would.
cut_database() {
  local t0 down name died=()
  t0=$(date +%s.%N)
  if as_pg "$PGBIN/pg_ctl" -D "$PGBASE/data" -l "$PGBASE/postgres.log" -m fast -w -t 60 restart >"$LOGS/pg-restart.log" 2>&1; then
    down=$("$PY" -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$t0")
    result PASS "[$DRILL] PostgreSQL restarted while upload_roster ran: every metadata-database connection cut, back after $down s"
  else
    result FAIL "[$DRILL] PostgreSQL restart failed (see $LOGS/pg-restart.log)"
  fi
  rm -f "$THROTTLE"
  sleep 10   # what a service does on the lost connection shows within seconds
  for name in "${ORDER[@]}"; do
    case $name in redis|servers|sftp-proxy) continue ;; esac
    kill -0 "${PIDS[$name]}" 2>/dev/null && [ "$(ps -o stat= -p "${PIDS[$name]}" | cut -c1)" != Z ] || died+=("$name")
  done
  for name in "${died[@]}"; do
    say "[$DRILL] $name exited on the lost database connection; restarting it as compose's restart policy would"
    topology_restart "$name"
  done
  say "[$DRILL] services that exited on the lost connection: ${died[*]:-none}"
}

drill() {  # worker|scheduler|database, its first phase, its night
  local night=$3 file killed
  DRILL=$1
  file=${DISTRICT}_roster_${night//-/}.txt
  local args=(--drill "$DRILL" --api "http://127.0.0.1:$API_PORT" --user "$AIRFLOW_ADMIN_USER"
    --password-env AIRFLOW_ADMIN_PASSWORD --dag-id "$DAG_ID" --night "$night"
    --run-id "e2e_fault_${DRILL}_$(date +%Y%m%dT%H%M%S)" --timeout "$DRILL_TIMEOUT" --log-dir "$LOGS"
    --sftp-dir "$VAR/servers/sftp/upload/$DISTRICT" --roster-file "$file"
    --killed-file "$VAR/drill-killed" --throttle "$THROTTLE" --expected "$VAR/offline-$night/$file"
    --maildir "$VAR/servers/mail" --snapshot "$VAR/roster-data/$DISTRICT/snapshot/snapshot.json")
  say "fault drill: $DRILL (night $night)"
  rm -f "$VAR/drill-killed"
  with_services
  checks scripts/e2e_faults.py "$2" "${args[@]}" "${services[@]}" || true
  T_KILL=$(date +%s)
  if [ "$DRILL" = database ]; then cut_database; fi
  killed=$(cat "$VAR/drill-killed" 2>/dev/null || true)
  [ -z "$killed" ] || restart_killed "$killed"
  with_services
  checks scripts/e2e_faults.py check "${args[@]}" "${services[@]}" || true
}

if [ "${E2E_FAULTS:-1}" = 1 ]; then
  T_DRILLS=$(date +%s)
  drill worker kill-upload "$DRILL_WORKER_NIGHT"
  drill scheduler kill-scheduler "$DRILL_SCHEDULER_NIGHT"
  drill database wait-upload "$DRILL_DATABASE_NIGHT"
  say "fault drills took $(( $(date +%s) - T_DRILLS )) s"
fi

# --- the deferral drill: a late night waits in the triggerer, holding no worker slot ----------------
if [ "${E2E_DEFER:-1}" = 1 ]; then
  T_DEFER=$(date +%s)
  say "deferral drill: $DISTRICT's night of $DEFER_NIGHT late; $DEFER_OTHERS on time"
  defer_file=${DISTRICT}_roster_${DEFER_NIGHT//-/}.txt
  others=()
  for other in $DEFER_OTHERS; do others+=(--other-dag "roster_$other"); done
  with_services
  checks scripts/e2e_defer.py --api "http://127.0.0.1:$API_PORT" --user "$AIRFLOW_ADMIN_USER" \
    --password-env AIRFLOW_ADMIN_PASSWORD --dag-id "$DAG_ID" "${others[@]}" --night "$DEFER_NIGHT" \
    --export-src "$REPO/$EXPORT" --export-dest "$VAR/include/inbound/$DISTRICT/roster_${DEFER_NIGHT//-/}.csv" \
    --sftp-dir "$VAR/servers/sftp/upload/$DISTRICT" --roster-file "$defer_file" \
    --expected "$VAR/offline-$DEFER_NIGHT/$defer_file" --timeout "$DRILL_TIMEOUT" --log-dir "$LOGS" \
    --airflow-logs "$VAR/airflow/logs" \
    "${services[@]}" || true
  say "deferral drill took $(( $(date +%s) - T_DEFER )) s"
fi

# The admin password is in the environment of airflow-init and of the check scripts only: never in a log.
if grep -rlF -- "$ADMIN_PASSWORD" "$LOGS" "$VAR/airflow/logs" 2>/dev/null; then
  result FAIL "the admin password appears in the log file(s) above"
else
  result PASS "the admin password appears in no log under $LOGS or $VAR/airflow/logs"
fi
passed=$(grep -c '^PASS  ' "$RESULTS" || true)
failed=$(grep -c '^FAIL  ' "$RESULTS" || true)
echo "e2e: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
