# The project's Airflow image: the official Airflow 3.3 image plus the lock, the roster package and
# the DAGs, plugins and include files. Built and wired into a full stack in docker-compose.yaml.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:0 requirements.txt /opt/roster/requirements.txt
RUN pip install --no-cache-dir -r /opt/roster/requirements.txt

COPY --chown=airflow:0 pyproject.toml README.md /opt/roster/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 include/ /opt/airflow/include/
RUN ln -s /opt/airflow/plugins /opt/roster/plugins \
 && pip install --no-cache-dir --no-deps -e /opt/roster

ENV ROSTER_INCLUDE_DIR=/opt/airflow/include \
    ROSTER_DATA_ROOT=/opt/airflow/roster-data
