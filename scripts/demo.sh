#!/usr/bin/env bash
# One night of the sample district, end to end, on this machine: loopback SFTP and SMTP servers,
# Airflow on SQLite, `airflow dags test`. Prints where the delivered file, QA report and emails are.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
NIGHT=${NIGHT:-2026-11-20}
# 02:00 in America/Chicago on the roster date (the sample district's schedule).
LOGICAL=${LOGICAL:-${NIGHT}T08:00:00+00:00}
VAR=${VAR:-$REPO/var/demo}
# FORMAT=xlsx: the sample district whose SIS exports an Excel workbook; FORMAT=oneroster: the one whose
# SIS exports a OneRoster bulk package (each generated here, never committed).
FORMAT=${FORMAT:-csv}
case "$FORMAT" in
  csv) DISTRICT=sample_isd ;;
  xlsx)
    DISTRICT=sample_isd_xlsx
    .venv/bin/python -m devtools.sample_xlsx "include/inbound/$DISTRICT/roster_${NIGHT//-/}.xlsx" --date "$NIGHT"
    ;;
  oneroster)
    DISTRICT=sample_isd_oneroster
    .venv/bin/python -m devtools.oneroster "include/inbound/$DISTRICT/oneroster_${NIGHT//-/}.zip" --date "$NIGHT"
    ;;
  *) echo "FORMAT must be csv, xlsx or oneroster, not '$FORMAT'" >&2; exit 2 ;;
esac

rm -rf "$VAR"
mkdir -p "$VAR"
source "$REPO/scripts/servers.sh"
local_airflow_env "$REPO" "$VAR"
start_servers "$VAR/servers"

echo "== migrating Airflow's database (SQLite in $AIRFLOW_HOME)"
.venv/bin/airflow db migrate >"$VAR/airflow-db.log" 2>&1

echo "== running roster_$DISTRICT for the night of $NIGHT"
status=0
.venv/bin/airflow dags test "roster_$DISTRICT" "$LOGICAL" >"$VAR/dags-test.log" 2>&1 || status=$?

run_dir="$ROSTER_DATA_ROOT/$DISTRICT/$NIGHT"
echo
echo "Airflow log of the run:   $VAR/dags-test.log (exit $status)"
echo "QA report:                $run_dir/qa_report.json"
.venv/bin/python - "$run_dir/qa_report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  passed={r['passed']}  rows_read={r['rows_read']}  delivered={r['rows_delivered']}  rejected={r['rows_rejected']}")
print("  rejects by reason: " + ", ".join(f"{k}={v}" for k, v in r["rejects_by_reason"].items()))
PY
echo "Rejected rows:            $run_dir/rejects.csv"
delivered=$(find "$VAR/servers/sftp" -type f -name '*.txt' | sort)
echo "Delivered on the SFTP server (its / is $VAR/servers/sftp):"
for f in $delivered; do echo "  $f ($(wc -l <"$f") lines)"; done
[ -n "$delivered" ] || echo "  (nothing delivered)"
mail=$(find "$VAR/servers/mail" -name '*.eml' | sort)
echo "Emails caught by the SMTP sink:"
for f in $mail; do echo "  $f"; done
[ -n "$mail" ] || echo "  (none: the night passed QA, so nobody was emailed)"
exit "$status"
