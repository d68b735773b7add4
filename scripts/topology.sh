# Sourced by scripts/e2e.sh (make e2e) and scripts/fleet.sh (make fleet): the docker-compose.yaml
# topology started natively, and stopped, pass or fail.
#
#   PostgreSQL  a private cluster (initdb as the postgres user) on a free loopback port
#   Redis       redis-server on a free loopback port, no persistence
#   Airflow     `airflow db migrate` and scripts/fab_roles.py (airflow-init), then scheduler,
#               dag-processor, triggerer, api-server and N Celery workers, each with its compose
#               service's environment and command, read from docker-compose.yaml by scripts/compose_env.py
#   SFTP, SMTP  the project's loopback servers (python -m devtools.servers)
#
# The caller sets REPO, VAR, PY, AIRFLOW, T0 and TOPOLOGY (the name its messages start with), sources
# this file, then calls in order: topology_packages; topology_state WORKERS; `trap cleanup EXIT` and
# `trap 'exit 130' INT TERM`; topology_postgres; topology_redis; topology_servers; lays $VAR/include;
# topology_airflow_env (then may add exports to $VAR/env/native.env, read after each service's
# environment); topology_airflow_init; topology_airflow_services; topology_workers N;
# topology_wait_workers N. Services started are in PIDS (name -> pid, each its own session) and ORDER.

say() { printf '== %s\n' "$*"; }
die() { printf '%s: error: %s\n' "$TOPOLOGY" "$*" >&2; exit 2; }

declare -A PIDS=()   # service name -> pid (each is its own process group: started with setsid)
ORDER=()
PG_STARTED=""
RESTARTING=""
PGBASE=""
WRAP=()

# --- system packages --------------------------------------------------------------------------
pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

topology_packages() {
  local missing=()
  pg_bindir >/dev/null || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing ${missing[*]} from the system's packages"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      die "needs ${missing[*]}: install them (Debian: apt-get install ${missing[*]}) and run make $TOPOLOGY again"
    fi
  fi
  PGBIN=$(pg_bindir)
}

# --- state, ports, secrets --------------------------------------------------------------------
topology_state() {  # how many Celery workers will start (each gets a log-server port)
  local workers=$1 ports
  # A previous run killed hard may have left its PostgreSQL running on the old folder.
  if [ -f "$VAR/pg/data/postmaster.pid" ]; then
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$PGBIN/pg_ctl" -D "$VAR/pg/data" -m immediate stop >/dev/null 2>&1 || true
    else "$PGBIN/pg_ctl" -D "$VAR/pg/data" -m immediate stop >/dev/null 2>&1 || true; fi
  fi
  rm -rf "$VAR"
  mkdir -p "$VAR/logs" "$VAR/env" "$VAR/roster-data" "$VAR/airflow"
  chmod 0700 "$VAR/env"   # holds this run's generated secrets
  LOGS=$VAR/logs

  read -r -a ports < <("$PY" - "$((5 + workers))" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
PY
)
  PG_PORT=${ports[0]} REDIS_PORT=${ports[1]} API_PORT=${ports[2]} HEALTH_PORT=${ports[3]} TRIGGER_LOG_PORT=${ports[4]}
  WORKER_LOG_PORTS=("${ports[@]:5}")
  # What `make compose-env` puts in .env, fresh for this run.
  eval "$("$PY" - <<'PY'
import base64, os, secrets
print(f"export POSTGRES_PASSWORD={secrets.token_hex(16)}")
print(f"export AIRFLOW_FERNET_KEY={base64.urlsafe_b64encode(os.urandom(32)).decode()}")
print(f"export AIRFLOW_JWT_SECRET={secrets.token_hex(32)}")
print(f"export AIRFLOW_API_SECRET_KEY={secrets.token_hex(32)}")
print(f"ADMIN_PASSWORD={secrets.token_urlsafe(24)}")  # not exported: only airflow-init and the check get it
PY
)"
  export AIRFLOW_ADMIN_USER=admin
  export ROSTER_DATA_ROOT=$VAR/roster-data
  # This checkout's roster package, ahead of the one the virtualenv's editable install names (a git
  # worktree may share another checkout's .venv): every service, airflow-init and `roster run` import it.
  export PYTHONPATH=$REPO/plugins${PYTHONPATH:+:$PYTHONPATH}
  unset AIRFLOW_CONN_AWS_DEFAULT
}

# --- teardown, whatever happens -----------------------------------------------------------------
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

stop_groups() {  # seconds to wait after SIGTERM, then service names; SIGKILL whatever is left
  local grace=$1 name pid i alive; shift
  for name in "$@"; do
    pid=${PIDS[$name]}
    kill -0 "$pid" 2>/dev/null && { kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; }
  done
  for ((i = 0; i < grace * 5; i++)); do
    alive=0
    for name in "$@"; do kill -0 "${PIDS[$name]}" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for name in "$@"; do
    pid=${PIDS[$name]}
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

cleanup() {
  local rc=$? name workers=() others=()
  trap '' INT TERM   # the teardown itself must not be cut short
  trap - EXIT
  T_STOP=$(date +%s)
  say "stopping everything $TOPOLOGY started"
  for name in "${ORDER[@]}"; do
    case $name in worker*) workers+=("$name") ;; *) others+=("$name") ;; esac
  done
  # Workers first (warm shutdown), then the Airflow services and servers they talk to.
  [ ${#workers[@]} -eq 0 ] || stop_groups 20 "${workers[@]}"
  [ ${#others[@]} -eq 0 ] || stop_groups 20 "${others[@]}"
  if [ -n "$PG_STARTED" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGBASE/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      as_pg "$PGBIN/pg_ctl" -D "$PGBASE/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -n "$PGBASE" ]; then
    cp "$PGBASE/postgres.log" "$LOGS/postgres.log" 2>/dev/null || true
    case $PGBASE in "$VAR"/*) ;; *) rm -rf "$PGBASE" ;; esac
  fi
  if [ "$rc" != 0 ]; then
    echo "$TOPOLOGY: FAILED (exit $rc). Logs: $LOGS/" >&2
    for name in "${ORDER[@]}"; do
      echo "--- last lines of $LOGS/$name.log" >&2
      tail -n 15 "$LOGS/$name.log" >&2 2>/dev/null || true
    done
  fi
  echo "$TOPOLOGY: wall time $(( $(date +%s) - T0 )) s (teardown $(( $(date +%s) - T_STOP )) s)"
  exit "$rc"
}

start() {  # name, then the command; stdout/stderr to $LOGS/name.log, own process group (and session)
  local name=$1; shift
  if [ -n "$RESTARTING" ]; then   # topology_restart: same name, same place in ORDER, log appended
    echo "===== restarted at $(date -u +%H:%M:%S) =====" >>"$LOGS/$name.log"
    setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
    PIDS[$name]=$!
    return
  fi
  setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  PIDS[$name]=$!
  ORDER+=("$name")
}

# --- PostgreSQL: a private cluster owned by the postgres user -----------------------------------
topology_postgres() {
  PGBASE=$VAR/pg
  mkdir -p "$PGBASE"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "no postgres user; is the postgresql package installed?"
    chown postgres: "$PGBASE"
    # The postgres user must reach $VAR; a repository under a private home may not allow it.
    if ! runuser -u postgres -- test -w "$PGBASE"; then
      PGBASE=$(mktemp -d "/tmp/roster-$TOPOLOGY-pg.XXXXXX")
      chown postgres: "$PGBASE"
    fi
  fi
  say "PostgreSQL ($PGBIN) on 127.0.0.1:$PG_PORT, data in $PGBASE"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$PGBASE/pwfile"
  [ "$(id -u)" = 0 ] && chown postgres: "$PGBASE/pwfile"
  as_pg "$PGBIN/initdb" -D "$PGBASE/data" -U airflow --pwfile="$PGBASE/pwfile" -A scram-sha-256 \
    -E UTF8 --no-locale --no-sync >"$LOGS/initdb.log" 2>&1 || { cat "$LOGS/initdb.log" >&2; die "initdb failed"; }
  rm -f "$PGBASE/pwfile"
  mkdir -p "$PGBASE/run"
  [ "$(id -u)" = 0 ] && chown postgres: "$PGBASE/run"
  as_pg "$PGBIN/pg_ctl" -D "$PGBASE/data" -l "$PGBASE/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PGBASE/run -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || { cat "$PGBASE/postgres.log" >&2; die "PostgreSQL did not start"; }
  PG_STARTED=1
  PGPASSWORD=$POSTGRES_PASSWORD "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U airflow airflow ||
    die "could not create the airflow database"
}

# --- Redis ----------------------------------------------------------------------------------------
topology_redis() {
  say "Redis on 127.0.0.1:$REDIS_PORT"
  mkdir -p "$VAR/redis"
  start redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --daemonize no --dir "$VAR/redis"
  "$PY" - "$REDIS_PORT" <<'PY' || die "Redis did not answer; see $LOGS/redis.log"
import sys, time, redis
r = redis.Redis(port=int(sys.argv[1]), socket_timeout=1)
for _ in range(100):
    try:
        if r.ping():
            sys.exit(0)
    except redis.exceptions.ConnectionError:
        time.sleep(0.1)
sys.exit(1)
PY
}

# --- the loopback SFTP and SMTP servers ---------------------------------------------------------
topology_servers() {
  start servers "$PY" -m devtools.servers --dir "$VAR/servers"
  for _ in $(seq 1 150); do
    [ -f "$VAR/servers/servers.env" ] && break
    kill -0 "${PIDS[servers]}" 2>/dev/null || die "the SFTP/SMTP servers did not start; see $LOGS/servers.log"
    sleep 0.2
  done
  [ -f "$VAR/servers/servers.env" ] || die "the SFTP/SMTP servers did not start within 30 s; see $LOGS/servers.log"
  # shellcheck disable=SC1091
  source "$VAR/servers/servers.env"   # AIRFLOW_CONN_RETHINK_SFTP (host key pinned), AIRFLOW_CONN_SMTP_DEFAULT
  say "SFTP and SMTP servers up ($(head -c 200 "$LOGS/servers.log" | sed -n 's/.*sftp (\([a-z]*\)).*/\1/p') SFTP backend)"
}

# --- the Airflow services, as docker-compose.yaml starts them ------------------------------------
topology_airflow_env() {
  local service
  MAPS=(
    --map "postgres:5432=127.0.0.1:$PG_PORT"
    --map "redis:6379=127.0.0.1:$REDIS_PORT"
    --map "airflow-apiserver:8080=127.0.0.1:$API_PORT"
    --map "/opt/airflow/include=$VAR/include"
    --map "/opt/airflow/roster-data=$VAR/roster-data"
  )
  for service in airflow-init airflow-apiserver airflow-scheduler airflow-dag-processor airflow-triggerer airflow-worker; do
    AIRFLOW_ADMIN_PASSWORD=$ADMIN_PASSWORD "$PY" scripts/compose_env.py env "$service" "${MAPS[@]}" >"$VAR/env/$service.env"
  done
  # Where the image's paths and the containers' ports are, natively.
  cat >"$VAR/env/native.env" <<EOF
export AIRFLOW_HOME=$VAR/airflow
export AIRFLOW__CORE__DAGS_FOLDER=$REPO/dags
export AIRFLOW__CORE__PLUGINS_FOLDER=$REPO/plugins
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT=$API_PORT
export AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT=$HEALTH_PORT
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=$TRIGGER_LOG_PORT
export AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=False
export PATH=$REPO/.venv/bin:\$PATH
EOF
}

# airflow <the service's command words> [extra args], in the service's environment.
airflow_service() {  # name, compose service, [extra env file], -- extra args
  local name=$1 service=$2 extra=$3; shift 3
  local words
  words=$("$PY" scripts/compose_env.py command "$service")
  start "$name" bash -c '
    set -a; source "$1"; source "$2"; [ -z "$3" ] || source "$3"; set +a
    shift 3; exec "$@"' _ "$VAR/env/$service.env" "$VAR/env/native.env" "$extra" \
    "${WRAP[@]}" "$AIRFLOW" $words "$@"
}

topology_airflow_init() {
  say "airflow-init: airflow db migrate; scripts/fab_roles.py (admin, roster-reviewer role); roster check-config; roster pools"
  (
    set -a; source "$VAR/env/airflow-init.env"; source "$VAR/env/native.env"; set +a
    "$AIRFLOW" db migrate
    "$PY" scripts/fab_roles.py
    "$REPO/.venv/bin/roster" check-config
    "$REPO/.venv/bin/roster" pools
  ) >"$LOGS/airflow-init.log" 2>&1 || { tail -n 30 "$LOGS/airflow-init.log" >&2; die "airflow-init failed"; }
}

topology_airflow_services() {
  WRAP=()
  say "starting airflow-apiserver (127.0.0.1:$API_PORT), -scheduler, -dag-processor, -triggerer"
  airflow_service apiserver airflow-apiserver ""
  airflow_service scheduler airflow-scheduler ""
  airflow_service dag-processor airflow-dag-processor ""
  airflow_service triggerer airflow-triggerer ""
}

# Celery workers, concurrency 1 each, each with its own hostname and log-server port.
topology_workers() {  # how many
  local count=$1 n names
  HOSTNAMES=${E2E_HOSTNAMES:-auto}   # uts | callable | auto (uts where permitted)
  if [ "$HOSTNAMES" = auto ]; then
    if unshare --uts true 2>/dev/null; then HOSTNAMES=uts; else HOSTNAMES=callable; fi
  fi
  for n in $(seq 1 "$count"); do
    cat >"$VAR/env/worker$n.env" <<EOF
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=${WORKER_LOG_PORTS[n - 1]}
EOF
    if [ "$HOSTNAMES" != uts ]; then
      cat >>"$VAR/env/worker$n.env" <<EOF
export E2E_WORKER_HOSTNAME=worker$n
export PYTHONPATH=$REPO/scripts\${PYTHONPATH:+:\$PYTHONPATH}
export AIRFLOW__CORE__HOSTNAME_CALLABLE=e2e_hostname.hostname
EOF
    fi
    topology_start_worker "$n"
  done
  names=$(for n in $(seq 1 "$count"); do printf 'worker%s, ' "$n"; done)
  say "starting $count Celery workers (${names%, }; concurrency 1; hostnames by $HOSTNAMES)"
}

topology_start_worker() {  # its number; topology_workers wrote its environment file
  local n=$1
  WRAP=()
  [ "$HOSTNAMES" = uts ] && WRAP=(unshare --uts -- sh -c 'hostname "$0" && exec "$@"' "worker$n")
  airflow_service "worker$n" airflow-worker "$VAR/env/worker$n.env" \
    --celery-hostname "worker$n@%h" --concurrency 1
  WRAP=()
}

# What a compose `restart:` policy does for a service that died: start it again, the same way, its
# output appended to the same log. For make e2e's fault drills.
topology_restart() {  # an Airflow service's name (scheduler, worker<n>, apiserver, dag-processor, triggerer)
  local name=$1 old=${PIDS[$1]}
  wait "$old" 2>/dev/null || true   # reap the killed one
  RESTARTING=1
  case $name in
    worker*) topology_start_worker "${name#worker}" ;;
    scheduler) airflow_service scheduler airflow-scheduler "" ;;
    apiserver) airflow_service apiserver airflow-apiserver "" ;;
    dag-processor) airflow_service dag-processor airflow-dag-processor "" ;;
    triggerer) airflow_service triggerer airflow-triggerer "" ;;
    *) die "topology_restart: no restart for $name" ;;
  esac
  RESTARTING=""
  say "restarted $name (pid $old killed; now pid ${PIDS[$name]})"
}

topology_wait_workers() {  # how many
  local count=$1 n
  for n in $(seq 1 "$count"); do
    for _ in $(seq 1 120); do
      grep -Eq "worker$n@[^ ]+ ready" "$LOGS/worker$n.log" 2>/dev/null && break
      kill -0 "${PIDS[worker$n]}" 2>/dev/null || die "worker$n exited; see $LOGS/worker$n.log"
      sleep 1
    done
    grep -Eq "worker$n@[^ ]+ ready" "$LOGS/worker$n.log" || die "worker$n not ready after 120 s; see $LOGS/worker$n.log"
  done
  if [ "$count" = 2 ]; then say "both workers ready"; else say "all $count workers ready"; fi
}
