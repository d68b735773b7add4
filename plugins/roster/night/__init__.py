"""One night's pipeline: validate, serialize, diff against the last delivery, judge QA, snapshot,
retention. Plain functions on plain data: the Airflow tasks and ``roster run`` both call them."""
