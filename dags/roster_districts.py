"""Airflow DAGs ``roster_<district_id>``: one nightly Rethink Ed roster DAG per district file.

District files live in ``include/districts/*.yaml`` (or ``$ROSTER_INCLUDE_DIR/districts``). A broken
district file becomes a stand-in DAG that shows its error, and the other districts still load.
When Airflow runs one task it parses this file for that DAG only (the parsing context), so a task
run never builds every district's DAG.
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context

from roster.airflow.nightly import build_all

_current = get_parsing_context().dag_id
globals().update(build_all(only_dag_id=_current if _current and _current.startswith("roster_") else None))
