"""Airflow DAGs ``roster_<district_id>``: one nightly Rethink Ed roster DAG per district file.

District files live in ``include/districts/*.yaml`` (or ``$ROSTER_INCLUDE_DIR/districts``). A broken
district file becomes a stand-in DAG that shows its error, and the other districts still load.
When Airflow runs one task it parses this file for that DAG only (the parsing context), so a task
run never builds every district's DAG.
"""

from __future__ import annotations

import gc

from airflow.sdk import get_parsing_context

from roster.airflow.nightly import build_all

_current = get_parsing_context().dag_id
globals().update(build_all(only_dag_id=_current if _current and _current.startswith("roster_") else None))
# The DAGs live as long as the process that parsed them (a dag-processor's parsing process, a task
# run): moved out of the collector's generations, they are never walked again, not by a collection
# the task's own work triggers nor by the full collections of the interpreter's exit (with 1,000
# districts about 1.5 s of a plain parsing process on this project's 2-core machine).
gc.freeze()
