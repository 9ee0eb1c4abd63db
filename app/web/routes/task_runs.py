"""Task Runs (/task-runs): the filtered list, and its one live stream of row patches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from app.api.deps import ContextDep
from app.context import AppContext
from app.services.actor import Actor
from app.web.auth import WebSession
from app.web.calls import CallsDep
from app.web.deps import BusDep, LifetimeDep
from app.web.htmx import HtmxDep
from app.web.live_runs import LivePage, Patch
from app.web.run_filters import KINDS, SORTABLE, MoreFiltersDep
from app.web.runs_list import (
    FILTER_STATUSES,
    Range,
    RunFilters,
    load_page,
    load_runs,
    rows_of,
)
from app.web.sse import EventStream, ServerEvent, changes
from app.web.tasks_view import load_choices
from app.web.templating import render, render_fragment

router = APIRouter(include_in_schema=False)


def run_filters(
    more: MoreFiltersDep,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    range: Range = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    before: Annotated[int, Query(ge=0)] = 0,
    after: Annotated[int, Query(ge=0)] = 0,
) -> RunFilters:
    if status == "IDLE" and not more.view:  # planned runs live on the Upcoming tab
        more = replace(more, view="upcoming")
    return RunFilters(
        q=q.strip(),
        status=status if status in FILTER_STATUSES else "",
        range=range,
        page=page,
        before=before,
        after=0 if before else after,
        more=more,
    )


FiltersDep = Annotated[RunFilters, Depends(run_filters)]


@router.get("/task-runs")
async def task_runs(
    request: Request,
    context: ContextDep,
    api: CallsDep,
    htmx: HtmxDep,
    bus: BusDep,
    filters: FiltersDep,
) -> Response:
    seq = bus.seq  # read before the rows: a change after it makes the stream resync
    page = await load_page(api, context, filters)
    name = "task_runs/_live.html" if htmx.wants_fragment else "task_runs/page.html"
    choices = None if htmx.wants_fragment else await load_choices(api)
    return render(
        request,
        name,
        {
            "active": "runs",
            "page": page,
            "filters": filters,
            "seq": seq,
            "statuses": FILTER_STATUSES,
            "choices": choices,
            "kinds": KINDS,
            "sorts": SORTABLE,
        },
        session=api.session,
        status_code=400 if filters.more.error else 200,
    )


@router.get("/task-runs/events")
async def task_runs_events(
    request: Request,
    context: ContextDep,
    api: CallsDep,
    bus: BusDep,
    lifetime: LifetimeDep,
    filters: FiltersDep,
    seq: int = 0,
) -> EventStream:
    session = api.session
    last = request.headers.get("Last-Event-ID", "")
    known = int(last) if last.isdigit() else seq

    async def source(deadline: float) -> AsyncIterator[ServerEvent | None]:
        with bus.subscribe() as subscription:
            # Read before the rows: a change after it is in the subscription anyway.
            seen = bus.seq
            page = await load_page(api, context, filters)
            live = LivePage(filters=filters, shown=list(page.ids))
            # Redraw when the browser's page is older than what we read, and also when
            # runs changed while we read: the rows we hold may then include runs the
            # browser has never been sent, and patching those in place would miss.
            if seen != known or bus.seq != seen:
                html = render_fragment(
                    "task_runs/_rows.html",
                    {"page": page, "oob": True},
                    session=session,
                    now=context.clock.now(),
                )
                yield ServerEvent(event="rows", id=str(seen), data=html)
            async for change in changes(subscription, deadline):
                if not change:
                    yield None
                elif change.runs:
                    html = await anyio.to_thread.run_sync(
                        _patch, context, session, live, change.runs
                    )
                    if html:
                        # The id says what the page has applied, not what the bus has
                        # counted meanwhile: a reconnect resyncs from there.
                        yield ServerEvent(event="rows", id=str(change.seq), data=html)

    return EventStream(source, lifetime=lifetime)


def _patch(
    context: AppContext, session: WebSession, live: LivePage, run_ids: frozenset[int]
) -> str:
    now = context.clock.now()
    before = len(live.shown)
    actor = Actor(session.user)
    patch: Patch = live.apply(load_runs(context, actor, run_ids), now)
    if not patch:
        return ""
    inserted_rows = rows_of(context, actor, [run for run, _ in patch.inserted])
    return render_fragment(
        "task_runs/_patch.html",
        {
            "updated": rows_of(context, actor, patch.updated),
            "inserted": list(zip(inserted_rows, [b for _, b in patch.inserted], strict=True)),
            "removed": patch.removed,
            "was_empty": before == 0,
        },
        session=session,
        now=now,
    )
