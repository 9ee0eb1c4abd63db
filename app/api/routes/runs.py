"""/runs: history with filters, the timeline, logs, and operator controls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from app.api.deps import ActorDep, AuditDep, Auditor, ContextDep, OperatorDep, UserDep
from app.context import AppContext
from app.control_relay import Delivery
from app.db.engine import session_scope
from app.db.logs import iter_bytes
from app.db.runs import get_run
from app.db.tables import Run
from app.domain.states import RunStatus, is_terminal, kill_plan
from app.errors import Conflict
from app.models.schemas import LogPagePublic, RunDetail, RunPage, RunPublic
from app.protocol.frames import Control
from app.scheduler.operator import stop_run
from app.services import runs
from app.services.runs import Stream
from app.services.runs_view import run_public
from app.services.scope import InstanceScope

router = APIRouter(prefix="/runs", tags=["runs"])
# A control the agent got from this server answers 200; one the server holding the agent
# confirmed it sent answers 202; none holds it: 409.
RELAYED: dict[int | str, dict[str, Any]] = {
    202: {
        "model": RunPublic,
        "description": "Relayed to the server holding the run's agent, which sent it",
    }
}


def _visible_run(context: AppContext, run_id: int, instances: list[str]) -> Run:
    with session_scope(context.engine) as session:
        run = get_run(session, run_id)
    InstanceScope(frozenset(instances)).check(run.instance, "run", run_id)
    return run


async def _audit(audit: Auditor, action: str, run: Run, after: str, detail: str = "") -> None:
    """Record an operator's control of a run (its status before, what was asked or done)."""
    await anyio.to_thread.run_sync(
        partial(
            audit.log,
            action=f"run.{action}",
            target_kind="run",
            target_id=run.id,
            before={"status": run.status},
            after={"status": after},
            instance=run.instance,
            detail=detail,
        )
    )


@router.get("", response_model=RunPage)
def list_runs(
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    status: Annotated[list[RunStatus] | None, Query()] = None,
    task: int | None = None,
    group: int | None = None,
    batch: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RunPage:
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
    stream: Stream = "stdout",
    attempt: Annotated[int | None, Query(ge=1)] = None,
) -> StreamingResponse:
    run = _visible_run(context, run_id, user.instances)
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


async def _control(
    context: AppContext, run: Run, kind: Literal["kill", "pause", "resume"], response: Response
) -> str:
    """Send the control to the run's agent, here or through the server holding it; return
    what happened, for the audit row."""
    control = Control(type=kind, run_id=run.id or 0, attempt=run.attempt)
    delivery = (
        Delivery.UNREACHABLE
        if run.agent is None
        else await context.controls.deliver(run.agent, control)
    )
    if delivery is Delivery.UNREACHABLE:
        raise Conflict(f"agent {run.agent} of run {run.id} is not connected to any server")
    if delivery is Delivery.RELAYED:
        response.status_code = 202
        return f"relayed to the server holding agent {run.agent}"
    return f"sent to agent {run.agent}"


@router.post("/{run_id}/kill", response_model=RunPublic, responses=RELAYED)
async def kill(
    run_id: int, context: ContextDep, user: OperatorDep, audit: AuditDep, response: Response
) -> RunPublic:
    run = await anyio.to_thread.run_sync(_visible_run, context, run_id, user.instances)
    status = RunStatus(run.status)
    if is_terminal(status):
        raise Conflict(f"run {run_id} already ended {status.value}")
    plan = kill_plan(status, run.agent is not None)
    if plan.end_here is None:  # its agent ends it
        how = await _control(context, run, "kill", response)
        await _audit(audit, "kill", run, "kill requested", how)
        return run_public(run)
    public = await anyio.to_thread.run_sync(_stop_here, context, run_id, user.username)
    await _audit(audit, "kill", run, public.status)
    if plan.tell_agent and run.agent:  # the start may already be on its way
        await context.controls.tell(
            run.agent, Control(type="kill", run_id=run_id, attempt=run.attempt)
        )
    return public


def _stop_here(context: AppContext, run_id: int, who: str) -> RunPublic:
    with session_scope(context.engine) as session:
        run = get_run(session, run_id, lock=True)
        stop_run(session, run, who=who, detail=f"terminated by {who}", now=context.clock.now())
        return run_public(run)


async def _pause_or_resume(
    context: AppContext,
    run_id: int,
    instances: list[str],
    audit: Auditor,
    kind: Literal["pause", "resume"],
    response: Response,
) -> RunPublic:
    needed, done = (
        (RunStatus.RUNNING, "paused") if kind == "pause" else (RunStatus.PAUSED, "resumed")
    )
    run = await anyio.to_thread.run_sync(_visible_run, context, run_id, instances)
    if run.status != needed.value:
        raise Conflict(f"run {run_id} is {run.status}: only a {needed.value} run can be {done}")
    how = await _control(context, run, kind, response)
    await _audit(audit, kind, run, f"{kind} requested", how)
    return run_public(run)


@router.post("/{run_id}/pause", response_model=RunPublic, responses=RELAYED)
async def pause(
    run_id: int, context: ContextDep, user: OperatorDep, audit: AuditDep, response: Response
) -> RunPublic:
    return await _pause_or_resume(context, run_id, user.instances, audit, "pause", response)


@router.post("/{run_id}/resume", response_model=RunPublic, responses=RELAYED)
async def resume(
    run_id: int, context: ContextDep, user: OperatorDep, audit: AuditDep, response: Response
) -> RunPublic:
    return await _pause_or_resume(context, run_id, user.instances, audit, "resume", response)
