"""/tasks: definitions, force run, forecast."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlmodel import col, select

from app.api.deps import ContextDep, OperatorDep, UserDep, WriterDep
from app.api.runs_view import run_public
from app.api.schemas import (
    ForecastItem,
    ForecastPublic,
    FreezeCreate,
    FreezePublic,
    RunPublic,
    SkippedItem,
    TaskCreate,
    TaskPublic,
    TaskUpdate,
)
from app.clock import ensure_aware
from app.db.calendars import calendar_spec
from app.db.engine import session_scope
from app.db.runs import create_run, task_spec
from app.db.tables import Freeze, Task
from app.db.tasks import create_task, delete_task, get_task, update_task
from app.domain.roles import can_see_instance
from app.domain.schedules import parse_schedule
from app.domain.states import RunStatus, TriggerKind
from app.domain.triggers import forecast
from app.errors import Conflict, InvalidInput, NotFound
from app.scheduler.planner import plan_task

router = APIRouter(prefix="/tasks", tags=["tasks"])


def to_public(task: Task) -> TaskPublic:
    data = task.model_dump()
    data["tid"] = data.pop("id")
    data["group"] = data.pop("group_id")
    return TaskPublic.model_validate(data)


def _visible(task: Task, user_instances: list[str]) -> Task:
    if not can_see_instance(user_instances, task.instance):
        raise NotFound("task", task.id)
    return task


@router.get("", response_model=list[TaskPublic])
def list_tasks(
    context: ContextDep, user: UserDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    active: bool | None = None,
    group: int | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TaskPublic]:
    stmt = select(Task).order_by(col(Task.id))
    if q:
        stmt = stmt.where(col(Task.name).contains(q) | col(Task.description).contains(q))
    if active is not None:
        stmt = stmt.where(Task.active == active)
    if group is not None:
        stmt = stmt.where(Task.group_id == group)
    if "*" not in user.instances:
        stmt = stmt.where(col(Task.instance).in_(user.instances))
    with session_scope(context.engine) as session:
        rows = session.exec(stmt.offset((page - 1) * page_size).limit(page_size)).all()
        return [to_public(t) for t in rows]


@router.post("", response_model=TaskPublic, status_code=201)
def create(body: TaskCreate, context: ContextDep, user: WriterDep) -> TaskPublic:
    if not can_see_instance(user.instances, body.instance):
        raise InvalidInput("instance", f"instance {body.instance!r} is not granted to you")
    now = context.clock.now()
    with session_scope(context.engine) as session:
        task = create_task(session, {k: getattr(body, k) for k in TaskCreate.model_fields},
                           now=now)
        plan_task(session, task, now=now)
        public = to_public(task)
    context.scheduler.task_changed(public.tid, public.next_fire_time)
    return public


@router.get("/{tid}", response_model=TaskPublic)
def read(tid: int, context: ContextDep, user: UserDep) -> TaskPublic:
    with session_scope(context.engine) as session:
        return to_public(_visible(get_task(session, tid), user.instances))


@router.patch("/{tid}", response_model=TaskPublic)
def patch(tid: int, body: TaskUpdate, context: ContextDep, user: WriterDep) -> TaskPublic:
    now = context.clock.now()
    with session_scope(context.engine) as session:
        changed = {k: getattr(body, k) for k in body.model_fields_set}
        task = update_task(session, _visible(get_task(session, tid), user.instances), changed,
                           now=now)
        plan_task(session, task, now=now)
        public = to_public(task)
    context.scheduler.task_changed(public.tid, public.next_fire_time)
    return public


@router.delete("/{tid}", status_code=204)
def remove(tid: int, context: ContextDep, user: WriterDep) -> Response:
    with session_scope(context.engine) as session:
        delete_task(session, _visible(get_task(session, tid), user.instances))
    context.scheduler.task_changed(tid, None)
    return Response(status_code=204)


@router.post("/{tid}/run", response_model=RunPublic, status_code=201)
def force_run(tid: int, context: ContextDep, user: OperatorDep) -> RunPublic:
    now = context.clock.now()
    with session_scope(context.engine) as session:
        task = _visible(get_task(session, tid), user.instances)
        run = create_run(session, at=now, status=RunStatus.ACTIVE, trigger_kind=TriggerKind.MANUAL,
                         spec=task_spec(task), task=task, created_by=user.username,
                         detail=f"forced by {user.username}")
        public = run_public(run)
    context.scheduler.wake_dispatch()
    return public


@router.get("/{tid}/forecast", response_model=ForecastPublic)
def task_forecast(
    tid: int, context: ContextDep, user: UserDep,
    count: Annotated[int, Query(ge=1, le=10_000)] = 10,
    after: datetime | None = None,
) -> ForecastPublic:
    start = ensure_aware(after) if after and after.tzinfo else context.clock.now()
    if after is not None and after.tzinfo is None:
        raise InvalidInput("after", "must carry a UTC offset, e.g. 2026-01-01T00:00:00+00:00")
    with session_scope(context.engine) as session:
        task = _visible(get_task(session, tid), user.instances)
        if not task.schedule:
            return ForecastPublic(task=tid, timezone="UTC", occurrences=[], skipped=[])
        schedule = parse_schedule(task.schedule)
        calendar = calendar_spec(session, schedule.calendar) if schedule.calendar else None
    result = forecast(schedule, start, count, calendar)
    return ForecastPublic(
        task=tid, timezone=schedule.timezone,
        occurrences=[ForecastItem(at=o.at, local=o.local, note=o.note) for o in result.occurrences],
        skipped=[SkippedItem(local=s.local, reason=s.reason) for s in result.skipped],
    )


@router.get("/{tid}/freezes", response_model=list[FreezePublic])
def list_freezes(tid: int, context: ContextDep, user: UserDep) -> list[FreezePublic]:
    with session_scope(context.engine) as session:
        _visible(get_task(session, tid), user.instances)
        rows = session.exec(select(Freeze).where(Freeze.task_id == tid)
                            .order_by(col(Freeze.day))).all()
        return [FreezePublic(date=r.day, reason=r.reason, created_by=r.created_by) for r in rows]


@router.post("/{tid}/freezes", response_model=FreezePublic, status_code=201)
def freeze(tid: int, body: FreezeCreate, context: ContextDep, user: OperatorDep) -> FreezePublic:
    """Freeze the task for one date (in its schedule's timezone): that day's runs are skipped."""
    with session_scope(context.engine) as session:
        _visible(get_task(session, tid), user.instances)
        exists = session.exec(select(Freeze.id).where(Freeze.task_id == tid,
                                                      Freeze.day == body.date)).first()
        if exists is not None:
            raise Conflict(f"date: task {tid} is already frozen on {body.date.isoformat()}")
        session.add(Freeze(task_id=tid, day=body.date, reason=body.reason,
                           created_by=user.username, created_at=context.clock.now()))
    return FreezePublic(date=body.date, reason=body.reason, created_by=user.username)


@router.delete("/{tid}/freezes/{day}", status_code=204)
def unfreeze(tid: int, day: date, context: ContextDep, user: OperatorDep) -> Response:
    with session_scope(context.engine) as session:
        _visible(get_task(session, tid), user.instances)
        row = session.exec(select(Freeze).where(Freeze.task_id == tid, Freeze.day == day)).first()
        if row is None:
            raise NotFound("freeze", f"{tid}/{day.isoformat()}")
        session.delete(row)
    return Response(status_code=204)
