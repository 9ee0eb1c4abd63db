"""Group runs as teams look at them: the grid (/groups/{gid}/grid), the Gantt of one group
run (/group-runs/{id}/gantt), the heat map of a task's or a group's business dates, and a
group's paged group-run history (a fragment of its panel). Read-only: every viewer may see
them within their instances (the services check the scope)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from app.services import group_gantt, group_grid, heat_maps
from app.web.calls import CallsDep
from app.web.deps import PageError
from app.web.group_views import OUTCOME_CSS, OUTCOME_LABEL, bars, ticks
from app.web.htmx import HtmxDep
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Key = Annotated[int, Path(ge=1)]
Cursor = Annotated[int | None, Query(ge=1)]


@router.get("/groups/{gid:int}/grid")
async def grid_page(
    request: Request, gid: Key, api: CallsDep, before: Cursor = None, after: Cursor = None
) -> Response:
    grid = await api.read(group_grid.group_grid, gid=gid, before=before, after=after)
    return render(
        request,
        "group_views/grid.html",
        {"active": "tasks", "grid": grid},
        session=api.session,
    )


@router.get("/groups/{gid:int}/runs")
async def history(
    request: Request,
    gid: Key,
    api: CallsDep,
    htmx: HtmxDep,
    before: Cursor = None,
    after: Cursor = None,
) -> Response:
    page = await api.read(group_grid.group_runs_page, gid=gid, before=before, after=after)
    counts = await api.read(
        group_grid.task_run_counts, group_run_ids=[g.id for g in page.group_runs]
    )
    name = "group_views/_history.html" if htmx.wants_fragment else "group_views/history.html"
    return render(
        request,
        name,
        {"active": "tasks", "history": page, "counts": counts},
        session=api.session,
    )


@router.get("/group-runs/{group_run_id:int}/gantt")
async def gantt_page(request: Request, group_run_id: Key, api: CallsDep) -> Response:
    context = api.context
    gantt = await api.read(
        group_gantt.group_run_gantt, group_run_id=group_run_id, now=context.clock.now()
    )
    return render(
        request,
        "group_views/gantt.html",
        {"active": "tasks", "gantt": gantt, "bars": bars, "ticks": ticks(gantt)},
        session=api.session,
    )


def _end(end: str) -> date | None:
    if not end:
        return None
    try:
        return date.fromisoformat(end)
    except ValueError:
        raise PageError(400, f"end: {end!r} is not a date (YYYY-MM-DD)") from None


@router.get("/tasks/{tid:int}/heatmap")
async def task_heat_map(
    request: Request, tid: Key, api: CallsDep, end: Annotated[str, Query(max_length=20)] = ""
) -> Response:
    found = await api.read(
        heat_maps.task_heat_map, tid=tid, now=api.context.clock.now(), end=_end(end)
    )
    return _heat_map(request, api, found)


@router.get("/groups/{gid:int}/heatmap")
async def group_heat_map(
    request: Request, gid: Key, api: CallsDep, end: Annotated[str, Query(max_length=20)] = ""
) -> Response:
    found = await api.read(
        heat_maps.group_heat_map, gid=gid, now=api.context.clock.now(), end=_end(end)
    )
    return _heat_map(request, api, found)


def _heat_map(request: Request, api: CallsDep, found: heat_maps.HeatMap) -> Response:
    return render(
        request,
        "group_views/heatmap.html",
        {
            "active": "tasks",
            "map": found,
            "outcome_css": OUTCOME_CSS,
            "outcome_label": OUTCOME_LABEL,
        },
        session=api.session,
    )
