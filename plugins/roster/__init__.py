"""Nightly school-district roster pipelines for Rethink Ed.

The domain package (config, reading, validation, serialization, reports) is plain Python on plain
data; ``roster.airflow`` is the thin Airflow layer that schedules it.
"""

__version__ = "0.1.0"
