"""Airflow plugin: the Rosters view (``roster.rosters.app``) in the api-server at ``/rosters``, with a
"Rosters" entry in the UI's navigation that shows it inside Airflow's page.

This file is the only one of ``plugins/`` that Airflow scans (``.airflowignore`` keeps it out of
``roster/``); it imports no pandas. Every process that loads plugins imports it, every task process
included (the task runner loads plugins for their macros), so the FastAPI app is built only when the
api-server asks for it: its imports (Airflow's API security and database layers) cost a task process
one to two seconds for an app it never serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any, overload

from airflow.plugins_manager import AirflowPlugin

from roster.rosters import ROSTERS_VIEW


class _FastAPIApps(Sequence[dict[str, Any]]):
    """``fastapi_apps``, built on first read (the api-server's plugin manager iterates it)."""

    @cached_property
    def _apps(self) -> tuple[dict[str, Any], ...]:
        from roster.rosters.app import URL_PREFIX, app

        return ({"app": app, "url_prefix": URL_PREFIX, "name": ROSTERS_VIEW},)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | Sequence[dict[str, Any]]:
        return self._apps[index]

    def __len__(self) -> int:
        return len(self._apps)


class RostersPlugin(AirflowPlugin):
    name = "rosters"
    fastapi_apps = _FastAPIApps()  # type: ignore[assignment]
    # href is relative (no leading slash), so it works under any [api] base_url; url_route shows the
    # page inside Airflow's UI at /plugin/rosters.
    external_views = [  # noqa: RUF012
        {"name": ROSTERS_VIEW, "href": "rosters/", "destination": "nav", "url_route": "rosters"}
    ]
