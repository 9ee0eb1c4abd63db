"""/runs: history with filters, the timeline, logs, and operator controls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from app.api.deps import ActorDep, ContextDep, OperatorDep, UserDep
from app.api.run_query import RunQueryDep
from app.db.engine import session_scope
from app.db.logs import iter_bytes
from app.domain.states import RunStatus
from app.errors import InvalidInput
from app.models.schemas import LogPagePublic, RunDetail, RunPage, RunPublic
from app.services import run_controls, runs
from app.services.runs import Stream

router = APIRouter(prefix="/runs", tags=["runs"])
# A control the agent got from this server answers 200; one the server holding the agent
# confirmed it sent answers 202; none holds it: 409.
RELAYED: dict[int | str, dict[str, Any]] = {
    202: {
        "model": RunPublic,
        "description": "Relayed to the server holding the run's agent, which sent it",
    }
}


@router.get("", response_model=RunPage)
def list_runs(
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    more: RunQueryDep,
    status: Annotated[list[RunStatus] | None, Query()] = None,
    task: int | None = None,
    group: int | None = None,
    batch: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> RunPage:
    if before is not None and after is not None:
        raise InvalidInput("after", "give either before or after, not both")
    with session_scope(context.engine) as session:
        return runs.list_runs(
            session,
            actor=actor,
            status=status,
            task=task,
            group=group,
            batch=batch,
            since=since,
            until=until,
            q=q,
            page=page,
            page_size=page_size,
            before=before,
            after=after,
            more=more,
        )


@router.get("/{run_id}", response_model=RunDetail)
def read_run(run_id: int, context: ContextDep, user: UserDep, actor: ActorDep) -> RunDetail:
    with session_scope(context.engine) as session:
        return runs.read_run(
            session, actor=actor, run_id=run_id, hub=context.hub, now=context.clock.now()
        )


@router.get("/{run_id}/logs", response_model=LogPagePublic)
def read_logs(
    run_id: int,
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    stream: Stream = "stdout",
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=5000)] = 500,
    attempt: Annotated[int | None, Query(ge=1)] = None,
) -> LogPagePublic:
    with session_scope(context.engine) as session:
        return runs.read_logs(
            session,
            actor=actor,
            run_id=run_id,
            stream=stream,
            page=page,
            page_size=page_size,
            attempt=attempt,
        )


@router.get("/{run_id}/logs/download")
def download_logs(
    run_id: int,
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    stream: Stream = "stdout",
    attempt: Annotated[int | None, Query(ge=1)] = None,
) -> StreamingResponse:
    with session_scope(context.engine) as session:
        run = runs.visible_run(session, actor.scope, run_id)
    chosen = attempt or run.attempt

    def body() -> Iterator[bytes]:
        with session_scope(context.engine) as session:
            yield from iter_bytes(session, run_id=run_id, attempt=chosen, stream=stream)

    filename = f"run-{run_id}-attempt-{chosen}-{stream}.log"
    return StreamingResponse(
        body(),
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _answer(done: run_controls.Controlled, response: Response) -> RunPublic:
    if done.relayed:
        response.status_code = 202
    return done.run


@router.post("/{run_id}/kill", response_model=RunPublic, responses=RELAYED)
async def kill(
    run_id: int, context: ContextDep, user: OperatorDep, actor: ActorDep, response: Response
) -> RunPublic:
    done = await run_controls.kill(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        run_id=run_id,
        controls=context.controls,
    )
    return _answer(done, response)


@router.post("/{run_id}/pause", response_model=RunPublic, responses=RELAYED)
async def pause(
    run_id: int, context: ContextDep, user: OperatorDep, actor: ActorDep, response: Response
) -> RunPublic:
    done = await run_controls.pause_or_resume(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        run_id=run_id,
        kind="pause",
        controls=context.controls,
    )
    return _answer(done, response)


@router.post("/{run_id}/resume", response_model=RunPublic, responses=RELAYED)
async def resume(
    run_id: int, context: ContextDep, user: OperatorDep, actor: ActorDep, response: Response
) -> RunPublic:
    done = await run_controls.pause_or_resume(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        run_id=run_id,
        kind="resume",
        controls=context.controls,
    )
    return _answer(done, response)
