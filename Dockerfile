# The project's Airflow image: the official Airflow image plus the lock, the roster package, and the
# DAGs, plugins and include files. docker-compose.yaml runs every Airflow service from it.
#
#   docker build -t roster-pipelines:local .
#
# The tag below must name the apache-airflow version pinned in requirements.txt (tests/test_deployment.py
# checks it): the lock then reinstalls exactly the Airflow the image ships, never another one.
FROM apache/airflow:3.3.2-python3.11

# Folders owned by the image's `airflow` user: the project's install dir, the run artifacts (the volume
# compose mounts there is shared by every worker) and the mount point for SSH client keys. Group 0
# may write, so any AIRFLOW_UID works, as in the official image.
USER root
RUN mkdir -p /opt/roster /opt/airflow/roster-data /opt/airflow/secrets \
 && chown airflow:0 /opt/roster /opt/airflow/roster-data /opt/airflow/secrets \
 && chmod 0770 /opt/airflow/roster-data /opt/airflow/secrets
USER airflow

# The lock first: its layer is rebuilt only when requirements.txt changes. Installed as the image's
# `airflow` user, like every package of the official image. The official image ships its packages
# without bytecode, so every new task container would compile Airflow and pandas again on import:
# compile them once here.
COPY --chown=airflow:0 requirements.txt /opt/roster/requirements.txt
RUN pip install --no-cache-dir -r /opt/roster/requirements.txt \
 && python -c "import compileall, sysconfig; compileall.compile_dir(sysconfig.get_path('purelib'), quiet=1, workers=0)"

# The project. The `roster` package lives in the plugins folder Airflow puts on sys.path; the
# editable install points at that same folder, so there is one copy of the code and `roster` (the
# CLI) is on PATH.
COPY --chown=airflow:0 pyproject.toml README.md /opt/roster/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 include/ /opt/airflow/include/
COPY --chown=airflow:0 scripts/fab_roles.py /opt/roster/scripts/fab_roles.py
RUN ln -s /opt/airflow/plugins /opt/roster/plugins \
 && pip install --no-cache-dir --no-deps -e /opt/roster \
 && python -m compileall -q /opt/airflow/plugins

ENV ROSTER_INCLUDE_DIR=/opt/airflow/include \
    ROSTER_DATA_ROOT=/opt/airflow/roster-data \
    AIRFLOW__CORE__LOAD_EXAMPLES=False

# Fail the build, not the first night, on a broken district file or a missing provider.
RUN roster check-config \
 && python -c "import airflow.providers.celery, airflow.providers.postgres, airflow.providers.sftp, airflow.providers.smtp"
