"""A run's log viewer: pages of lines, search over the whole stream, download, and the live
stream of the run (its status redrawn, new output appended)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.responses import Response

from app.api.deps import ContextDep
from app.db.engine import session_scope
from app.db.logs import iter_bytes
from app.services.logtail import search
from app.web.calls import CallsDep
from app.web.deps import BusDep, LifetimeDep
from app.web.routes.run_detail import RunId
from app.web.run_feed import RunFeed, resume_position
from app.web.run_view import Stream, load_log, visible_run
from app.web.sse import EventStream
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Attempt = Annotated[int | None, Query(ge=1)]


@router.get("/task-runs/{run_id:int}/log")
async def log_page(
    request: Request,
    run_id: RunId,
    context: ContextDep,
    api: CallsDep,
    stream: Stream = "stdout",
    page: Annotated[int | None, Query(ge=1)] = None,
    attempt: Attempt = None,
) -> Response:
    run = await visible_run(api, context, run_id)
    log = await load_log(api, context, run, stream=stream, page=page, attempt=attempt)
    return render(request, "run_detail/_log.html", {"log": log}, session=api.session)


@router.get("/task-runs/{run_id:int}/log/search")
async def log_search(
    run_id: RunId,
    context: ContextDep,
    api: CallsDep,
    stream: Stream = "stdout",
    q: Annotated[str, Query(min_length=1, max_length=200)] = "",
    attempt: Attempt = None,
) -> JSONResponse:
    run = await visible_run(api, context, run_id)
    chosen = attempt or run.attempt

    def scan() -> dict[str, object]:
        with session_scope(context.engine) as session:
            found = search(session, run_id=run_id, attempt=chosen, stream=stream, text=q)
        return {"lines": found.lines, "total": found.total, "scanned": found.scanned}

    return JSONResponse(await anyio.to_thread.run_sync(scan))


@router.get("/task-runs/{run_id:int}/log/download")
async def log_download(
    run_id: RunId,
    context: ContextDep,
    api: CallsDep,
    stream: Stream = "stdout",
    attempt: Attempt = None,
) -> StreamingResponse:
    run = await visible_run(api, context, run_id)
    chosen = attempt or run.attempt

    def body() -> Iterator[bytes]:
        with session_scope(context.engine) as session:
            yield from iter_bytes(session, run_id=run_id, attempt=chosen, stream=stream)

    name = f"run-{run_id}-attempt-{chosen}-{stream}.log"
    return StreamingResponse(
        body(),
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/task-runs/{run_id:int}/events")
async def run_events(
    request: Request,
    run_id: RunId,
    context: ContextDep,
    api: CallsDep,
    bus: BusDep,
    lifetime: LifetimeDep,
    attempt: Annotated[int, Query(ge=1)] = 1,
    out: Annotated[int, Query(ge=0)] = 0,
    err: Annotated[int, Query(ge=0)] = 0,
    v: Annotated[int, Query(ge=0)] = 0,
) -> EventStream:
    """`attempt`, `out`, `err`: what the page shows (bytes of each stream); `v`: the number
    of timeline events it shows. Last-Event-ID ("attempt:out:err") wins on a reconnect."""
    await visible_run(api, context, run_id)  # 404 before streaming, as the API would
    position = resume_position(request.headers.get("Last-Event-ID", ""), attempt, out, err)
    feed = RunFeed(api=api, context=context, bus=bus, run_id=run_id, version=v, position=position)
    return EventStream(feed.events, lifetime=lifetime)
