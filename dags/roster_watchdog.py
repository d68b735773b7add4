"""Airflow DAG ``roster_watchdog``: daily check that every live district still delivers its roster."""

from __future__ import annotations

from roster.airflow.watchdog import build_watchdog_dag

dag = build_watchdog_dag()
