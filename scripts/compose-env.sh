#!/usr/bin/env bash
# make compose-env: everything docker-compose.yaml needs that must never be in the repository, for a
# local stack. Writes
#   .env                               (mode 0600, git- and docker-ignored) random POSTGRES_PASSWORD,
#                                      AIRFLOW_FERNET_KEY, AIRFLOW_JWT_SECRET, AIRFLOW_API_SECRET_KEY
#                                      and AIRFLOW_ADMIN_PASSWORD (the FAB admin's); AIRFLOW_UID; the
#                                      AIRFLOW_CONN_* of the local SFTP server (host key pinned) and
#                                      of Mailpit; COMPOSE_PROFILES=local
#   var/compose/sftp/ssh_host_ed25519_key      the local SFTP server's host key
#   var/compose/sftp/roster_client.pub         the key the pipeline logs in with (public half)
#   var/compose/secrets/rethink_ed25519        ... and its private half, mounted read-only into
#                                              the Airflow containers at /opt/airflow/secrets
# Existing keys and an existing .env are kept (a new Fernet key would make the database's encrypted
# values unreadable): variables it lacks (added by a newer version of this script) are appended, the
# others left alone; FORCE=1 rewrites .env. No value is ever printed, only names.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077

env_file=.env
dir=var/compose
mode=write
if [ -e "$env_file" ] && [ "${FORCE:-0}" != 1 ]; then
  mode=append-missing
fi
command -v ssh-keygen >/dev/null || { echo "error: ssh-keygen is needed (apt-get install openssh-client)" >&2; exit 2; }
python=$(command -v python3 || true)
[ -n "$python" ] || { echo "error: python3 is needed" >&2; exit 2; }

mkdir -p "$dir/sftp" "$dir/secrets" "$dir/sftp-upload"
chmod 0755 "$dir/sftp" "$dir/sftp-upload"
[ -f "$dir/sftp/ssh_host_ed25519_key" ] ||
  ssh-keygen -q -t ed25519 -N '' -C roster-local-sftp -f "$dir/sftp/ssh_host_ed25519_key"
[ -f "$dir/secrets/rethink_ed25519" ] ||
  ssh-keygen -q -t ed25519 -N '' -C roster-pipeline -f "$dir/secrets/rethink_ed25519"
cp "$dir/secrets/rethink_ed25519.pub" "$dir/sftp/roster_client.pub"
chmod 0644 "$dir/sftp/roster_client.pub" "$dir/sftp/ssh_host_ed25519_key.pub"

# The pinned host key is the local server's public key, read from the file we just generated; for a
# vendor's server it is `ssh-keyscan -t ed25519 host`, checked with the vendor (see README).
host_key=$(cut -d' ' -f1,2 "$dir/sftp/ssh_host_ed25519_key.pub")

"$python" - "$env_file" "$host_key" "$(id -u)" "$mode" <<'PY'
import base64, json, os, re, secrets, sys

path, host_key, uid, mode = sys.argv[1:5]
sftp = {
    "conn_type": "sftp", "host": "sftp", "port": 22, "login": "rethink",
    "extra": {"key_file": "/opt/airflow/secrets/rethink_ed25519", "host_key": host_key,
              "no_host_key_check": False, "look_for_keys": False},
}
smtp = {
    "conn_type": "smtp", "host": "mailpit", "port": 1025,
    "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "roster-pipeline@localhost",
              "timeout": 10, "retry_limit": 0},
}
values = {
    "AIRFLOW_UID": uid,
    "COMPOSE_PROFILES": "local",
    "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
    "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(48),
    "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(48),
    "AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(18),
    "AIRFLOW_CONN_RETHINK_SFTP": json.dumps(sftp, separators=(",", ":")),
    "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(smtp, separators=(",", ":")),
}
if mode == "append-missing":
    with open(path, encoding="utf-8") as fh:
        have = {m.group(1) for line in fh if (m := re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=", line))}
    values = {key: value for key, value in values.items() if key not in have}
    flags = os.O_WRONLY | os.O_APPEND
    print(f"{path} exists; kept it" + (f", added {', '.join(values)}" if values else "") + " (FORCE=1 rewrites it).")
else:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
fd = os.open(path, flags, 0o600)
with os.fdopen(fd, "w") as fh:
    if mode != "append-missing":
        fh.write("# Written by `make compose-env` for a LOCAL stack. Never commit this file.\n")
    for key, value in values.items():
        fh.write(f"{key}='{value}'\n")  # single quotes: compose reads the value literally
PY
echo "$env_file and $dir/ ready (local SFTP host key pinned in AIRFLOW_CONN_RETHINK_SFTP)."
echo "UI login: ${AIRFLOW_ADMIN_USER:-admin}, password AIRFLOW_ADMIN_PASSWORD in $env_file (grep it there; it is never printed)."
echo "next: docker compose up -d --build   (UI http://localhost:8080, mail http://localhost:8025)"
