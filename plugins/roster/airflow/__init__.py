"""The thin Airflow layer: the DAG factory and the steps its tasks run."""
