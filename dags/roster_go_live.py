"""Airflow DAG ``roster_go_live``: the go-live toolkit (cross-match discovery, pre-go-live clean-up,
announcement emails) for any district, triggered by hand with the step and inputs in its form.

The DAG is built in ``roster.airflow.go_live``; parsing this file imports no pandas.
"""

from __future__ import annotations

from roster.airflow.go_live import build_go_live_dag

roster_go_live = build_go_live_dag()
