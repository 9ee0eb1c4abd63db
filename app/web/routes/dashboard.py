"""Dashboard (/): runs per status, runs per hour, recent failures, agents, next runs due;
redrawn (at most every few seconds) while runs and agents change."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.deps import ContextDep
from app.web.api import ApiDep
from app.web.dashboard_view import load_dashboard
from app.web.deps import BusDep, LifetimeDep
from app.web.htmx import HtmxDep
from app.web.sse import EventStream, ServerEvent, changes
from app.web.templating import render

router = APIRouter(include_in_schema=False)
REDRAW_EVERY = 2.0  # seconds: a busy scheduler does not redraw the dashboard on every commit


@router.get("/")
async def dashboard(request: Request, context: ContextDep, api: ApiDep, htmx: HtmxDep,
                    bus: BusDep) -> Response:
    seq = bus.seq
    view = await load_dashboard(api, context.engine, context.clock.now())
    name = "dashboard/_body.html" if htmx.wants_fragment else "dashboard/page.html"
    return render(request, name, {"active": "dashboard", "view": view, "seq": seq},
                  session=api.session)


@router.get("/dashboard/events")
async def dashboard_events(api: ApiDep, bus: BusDep, lifetime: LifetimeDep, seq: int = 0
                           ) -> EventStream:
    async def source(deadline: float) -> AsyncIterator[ServerEvent | None]:
        last = 0.0
        with bus.subscribe() as subscription:
            if bus.seq != seq:  # something changed between the page and this stream
                yield ServerEvent(event="changed", data="1")
            async for change in changes(subscription, deadline):
                if not (change.runs or change.agents):
                    yield None
                    continue
                wait = last + REDRAW_EVERY - time.monotonic()
                if wait > 0:  # let changes gather, then redraw once
                    await anyio.sleep(min(wait, max(0.0, deadline - time.monotonic())))
                last = time.monotonic()
                yield ServerEvent(event="changed", data="1")

    return EventStream(source, lifetime=lifetime)
