"""Dashboard (/): runs per status, runs per hour, recent failures, agents, next runs due;
redrawn (at most every few seconds) while runs and agents change."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.deps import ContextDep
from app.web.calls import CallsDep
from app.web.dashboard_view import load_dashboard
from app.web.deps import BusDep, LifetimeDep
from app.web.htmx import HtmxDep
from app.web.scoped_changes import for_viewer
from app.web.sse import EventStream, redraw_stream
from app.web.templating import render

router = APIRouter(include_in_schema=False)
REDRAW_EVERY = 2.0  # seconds: a busy scheduler does not redraw the dashboard on every commit


@router.get("/")
async def dashboard(
    request: Request, context: ContextDep, api: CallsDep, htmx: HtmxDep, bus: BusDep
) -> Response:
    seq = bus.seq
    view = await load_dashboard(api, context.clock.now())
    name = "dashboard/_body.html" if htmx.wants_fragment else "dashboard/page.html"
    return render(
        request, name, {"active": "dashboard", "view": view, "seq": seq}, session=api.session
    )


@router.get("/dashboard/events")
async def dashboard_events(
    api: CallsDep, context: ContextDep, bus: BusDep, lifetime: LifetimeDep, seq: int = 0
) -> EventStream:
    relevant = for_viewer(context.engine, api.session.user.instances)
    return redraw_stream(bus, seq, lifetime, REDRAW_EVERY, relevant)
