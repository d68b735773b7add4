# Sourced by the demo and `make up`: local_airflow_env points Airflow (SQLite) at this repository;
# start_servers starts the loopback SFTP and SMTP servers in the background, exports the
# AIRFLOW_CONN_* variables that point at them, and stops them when the shell exits.
# Airflow on SQLite under VAR, reading this repository's DAGs, plugins and include root.
local_airflow_env() {
  local repo=$1 var=$2
  export AIRFLOW_HOME="$var/airflow"
  export AIRFLOW__CORE__LOAD_EXAMPLES=False
  export AIRFLOW__CORE__DAGS_FOLDER="$repo/dags"
  export AIRFLOW__CORE__PLUGINS_FOLDER="$repo/plugins"
  export ROSTER_INCLUDE_DIR="$repo/include"
  export ROSTER_DATA_ROOT="$var/roster-data"
}

start_servers() {
  local dir=$1
  mkdir -p "$dir"
  rm -f "$dir/servers.env"
  .venv/bin/python -m devtools.servers --dir "$dir" >"$dir/servers.log" 2>&1 &
  SERVERS_PID=$!
  trap 'kill "$SERVERS_PID" 2>/dev/null; wait "$SERVERS_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    [ -f "$dir/servers.env" ] && break
    if ! kill -0 "$SERVERS_PID" 2>/dev/null; then
      echo "error: the loopback servers did not start; see $dir/servers.log" >&2
      exit 2
    fi
    sleep 0.2
  done
  [ -f "$dir/servers.env" ] || { echo "error: the loopback servers did not start within 20 s; see $dir/servers.log" >&2; exit 2; }
  # shellcheck disable=SC1091
  source "$dir/servers.env"
  echo "== SFTP and SMTP servers on loopback (files under $dir)"
}
