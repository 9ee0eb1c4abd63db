"""/tasks: definitions, force run, forecast."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from app.api.deps import (
    ActorDep,
    ContextDep,
    OperatorDep,
    UserDep,
    WriterDep,
)
from app.db.engine import session_scope
from app.models.param_schemas import TaskRunRequest
from app.models.schemas import (
    ForecastPublic,
    FreezeCreate,
    FreezePublic,
    RunPublic,
    TaskCreate,
    TaskPublic,
    TaskUpdate,
)
from app.services import freezes, tasks
from app.services.schedule_views import forecast_start

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.get("", response_model=list[TaskPublic])
def list_tasks(
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    active: bool | None = None,
    group: int | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TaskPublic]:
    with session_scope(context.engine) as session:
        return tasks.list_tasks(
            session, actor=actor, q=q, active=active, group=group, page=page, page_size=page_size
        )


@router.post("", response_model=TaskPublic, status_code=201)
def create(body: TaskCreate, context: ContextDep, user: WriterDep, actor: ActorDep) -> TaskPublic:
    """Tasks a `user` creates start inactive: an operator activates them."""
    return tasks.create_task(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        body=body,
    )


@router.get("/{tid}", response_model=TaskPublic)
def read(tid: int, context: ContextDep, user: UserDep, actor: ActorDep) -> TaskPublic:
    with session_scope(context.engine) as session:
        return tasks.read_task(session, actor=actor, tid=tid)


@router.patch("/{tid}", response_model=TaskPublic)
def patch(
    tid: int, body: TaskUpdate, context: ContextDep, user: WriterDep, actor: ActorDep
) -> TaskPublic:
    """A `user`'s change to anything but name, description or deactivation makes the task
    inactive again until an operator activates it."""
    return tasks.update_task(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        tid=tid,
        body=body,
    )


@router.delete("/{tid}", status_code=204)
def remove(tid: int, context: ContextDep, user: WriterDep, actor: ActorDep) -> Response:
    tasks.delete_task(context.engine, actor=actor, now=context.clock.now(), tid=tid)
    return Response(status_code=204)


@router.post("/{tid}/run", response_model=RunPublic, status_code=201)
def force_run(
    tid: int,
    context: ContextDep,
    user: WriterDep,
    actor: ActorDep,
    body: Annotated[TaskRunRequest | None, Body()] = None,
) -> RunPublic:
    """Run now, optionally for a business date with parameter values ("run for date"). A run
    a `user` submits waits in PENDING_APPROVAL for an operator. `priority` (operators and
    above) replaces the task's for this run."""
    return tasks.force_run(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        tid=tid,
        request=body,
        priority=body.priority if body else None,
    )


@router.get("/{tid}/forecast", response_model=ForecastPublic)
def task_forecast(
    tid: int,
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    count: Annotated[int, Query(ge=1, le=10_000)] = 10,
    after: datetime | None = None,
) -> ForecastPublic:
    start = forecast_start(after, context.clock.now())
    with session_scope(context.engine) as session:
        return tasks.task_forecast(session, actor=actor, tid=tid, start=start, count=count)


@router.get("/{tid}/freezes", response_model=list[FreezePublic])
def list_freezes(
    tid: int, context: ContextDep, user: UserDep, actor: ActorDep
) -> list[FreezePublic]:
    with session_scope(context.engine) as session:
        return freezes.task_freezes(session, actor=actor, tid=tid)


@router.post("/{tid}/freezes", response_model=FreezePublic, status_code=201)
def freeze(
    tid: int, body: FreezeCreate, context: ContextDep, user: OperatorDep, actor: ActorDep
) -> FreezePublic:
    """Freeze the task for one date (in its schedule's timezone): that day's runs are skipped."""
    return freezes.freeze_task(
        context.engine, actor=actor, now=context.clock.now(), tid=tid, body=body
    )


@router.delete("/{tid}/freezes/{day}", status_code=204)
def unfreeze(
    tid: int, day: date, context: ContextDep, user: OperatorDep, actor: ActorDep
) -> Response:
    freezes.unfreeze_task(context.engine, actor=actor, now=context.clock.now(), tid=tid, day=day)
    return Response(status_code=204)
