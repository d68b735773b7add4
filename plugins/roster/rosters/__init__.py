"""The Rosters view: every district's standing and its recent nights, in the Airflow UI.

``summary`` builds the figures from the run artifacts under ``ROSTER_DATA_ROOT`` (no Airflow, no
FastAPI); ``airflow_state`` reads holds, failures and run ids from Airflow's database; ``charts``
draws the trend charts as SVG; ``app`` is the thin FastAPI app the plugin (``plugins/rosters_view.py``)
mounts in the api-server at ``/rosters``.
"""

#: The auth manager's custom view the app checks (FAB: ``can_read`` on it; scripts/fab_roles.py grants it).
ROSTERS_VIEW = "Rosters"
