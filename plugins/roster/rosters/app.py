"""The Rosters view's FastAPI app, mounted by the plugin at ``/rosters`` in Airflow's api-server.

Thin: who may see what (Airflow's auth manager, as Airflow's own routes ask it), and the figures of
``roster.rosters.summary`` as JSON or HTML. Every route needs a signed-in user (401 without one) who
may read the ``Rosters`` view (403 otherwise); a district is shown only to a user who may read its
DAG. Pages are rendered on the server, charts included, with no JavaScript and nothing fetched from
elsewhere. Only counts, reason codes, dates and run ids are shown: never a student's name or date of
birth (``qa_report.json`` holds none).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse

from roster.rosters import ROSTERS_VIEW

URL_PREFIX = "/rosters"
STATES = ("ok", "held", "failed", "stale", "no_data")
SORTABLE = ("id", "name", "mode", "state", "last_delivered", "rows_delivered", "rows_rejected", "reject_rate")


def _auth_manager():
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


def viewer(user: GetUserDep) -> Any:
    """The signed-in user, when the auth manager lets them read the Rosters view."""
    if not _auth_manager().is_authorized_custom_view(method="GET", resource_name=ROSTERS_VIEW, user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")
    return user


ViewerDep = Annotated[Any, Depends(viewer)]


def _readable(user: Any, district_id: str) -> bool:
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    from roster.rosters.airflow_state import dag_id

    return _auth_manager().is_authorized_dag(method="GET", details=DagDetails(id=dag_id(district_id)), user=user)


def _districts(user: Any) -> list:
    """The districts of the include root (as the DAG factory finds them) the user may read; a file that
    does not load is left out (its stand-in DAG shows the error)."""
    from roster.config import district_files, include_root, load_district
    from roster.errors import RosterError

    found = []
    for path in district_files(include_root()):
        try:
            district = load_district(path)
        except RosterError:
            continue
        if _readable(user, district.district_id):
            found.append(district)
    return found


def _district(user: Any, district_id: str):
    for district in _districts(user):
        if district.district_id == district_id:
            return district
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no district {district_id!r} you may read")


def _base(request: Request) -> str:
    """The UI's root path (where Airflow's pages are), from where this app is mounted."""
    return str(request.scope.get("root_path", "")).rstrip("/").removesuffix(URL_PREFIX)


def summaries(request: Request, session: Any, user: Any) -> list:
    from roster import settings
    from roster.rosters import airflow_state
    from roster.rosters.summary import district_summary

    districts = _districts(user)
    facts = airflow_state.facts(session, [(d.district_id, d.timezone) for d in districts], _base(request))
    now = dt.datetime.now(dt.UTC)
    return [district_summary(d, facts, now, settings.watchdog_hours()) for d in districts]


def district_nights(request: Request, session: Any, district, days: int) -> list:
    from roster.rosters import airflow_state
    from roster.rosters.summary import nights

    facts = airflow_state.facts(session, [(district.district_id, district.timezone)], _base(request))
    today = dt.datetime.now(district.tz).date()
    return nights(district.district_id, days, facts.run_ids.get(district.district_id, {}), today)


def _templates():
    import jinja2

    from roster.config import include_root

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(include_root() / "templates" / "rosters"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def create_app() -> FastAPI:
    app = FastAPI(title="Rosters", description=__doc__, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/api/districts")
    def api_districts(request: Request, session: SessionDep, user: ViewerDep) -> list[dict[str, Any]]:
        return [s.to_json() for s in summaries(request, session, user)]

    @app.get("/api/districts/{district_id}/nights")
    def api_nights(
        request: Request,
        district_id: str,
        session: SessionDep,
        user: ViewerDep,
        days: Annotated[int, Query(ge=1, le=366)] = 30,
    ) -> list[dict[str, Any]]:
        return [n.to_json() for n in district_nights(request, session, _district(user, district_id), days)]

    @app.get("/", response_class=HTMLResponse)
    def overview(
        request: Request,
        session: SessionDep,
        user: ViewerDep,
        sort: Annotated[str, Query(pattern="^(" + "|".join(SORTABLE) + ")$")] = "id",
        order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
        state: Annotated[str, Query(pattern="^(|" + "|".join(STATES) + ")$")] = "",
    ) -> str:
        rows = [s for s in summaries(request, session, user) if not state or s.state == state]
        # None last whichever the order: a district that never delivered sorts after the others.
        present = sorted((r for r in rows if getattr(r, sort) is not None), key=lambda r: getattr(r, sort))
        rows = [*(reversed(present) if order == "desc" else present), *(r for r in rows if getattr(r, sort) is None)]
        return (
            _templates()
            .get_template("index.html.j2")
            .render(
                rows=rows, sort=sort, order=order, state=state, states=STATES, columns=SORTABLE, base=_base(request)
            )
        )

    @app.get("/{district_id}", response_class=HTMLResponse)
    def district_page(
        request: Request,
        district_id: str,
        session: SessionDep,
        user: ViewerDep,
        days: Annotated[int, Query(ge=1, le=366)] = 90,
    ) -> str:
        from roster.rosters import airflow_state, charts

        district = _district(user, district_id)
        shown = district_nights(request, session, district, days)
        try:
            drawn, missing = charts.all_charts(shown), ""
        except charts.ChartsUnavailable as exc:
            drawn, missing = {}, str(exc)
        return (
            _templates()
            .get_template("district.html.j2")
            .render(
                district=district,
                nights=shown,
                charts=drawn,
                charts_missing=missing,
                days=days,
                dag_id=airflow_state.dag_id(district.district_id),
                run_url=lambda run_id: airflow_state.run_url(_base(request), district.district_id, run_id),
            )
        )

    return app


app = create_app()
