"""Airflow plugin: the Rosters view (``roster.rosters.app``) in the api-server at ``/rosters``, with a
"Rosters" entry in the UI's navigation that shows it inside Airflow's page.

This file is the only one of ``plugins/`` that Airflow scans (``.airflowignore`` keeps it out of
``roster/``); it imports no pandas.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from roster.rosters import ROSTERS_VIEW
from roster.rosters.app import URL_PREFIX, app


class RostersPlugin(AirflowPlugin):
    name = "rosters"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": ROSTERS_VIEW}]  # noqa: RUF012
    # href is relative (no leading slash), so it works under any [api] base_url; url_route shows the
    # page inside Airflow's UI at /plugin/rosters.
    external_views = [  # noqa: RUF012
        {"name": ROSTERS_VIEW, "href": "rosters/", "destination": "nav", "url_route": "rosters"}
    ]
