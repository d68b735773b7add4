"""[core] hostname_callable for `make e2e` where Linux UTS namespaces are not allowed.

Each Celery worker container has its own hostname, which Airflow records on every task instance it
runs. make e2e gives each native worker its own hostname with `unshare --uts`; where that is not
permitted it sets AIRFLOW__CORE__HOSTNAME_CALLABLE=e2e_hostname.hostname and E2E_WORKER_HOSTNAME
for each worker instead.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("E2E_WORKER_HOSTNAME") or socket.getfqdn()
