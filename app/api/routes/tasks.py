"""/tasks: definitions, force run, forecast."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlmodel import Session, col, select

from app.api.deps import (
    AuditDep,
    ContextDep,
    InstanceScope,
    OperatorDep,
    ScopeDep,
    UserDep,
    WriterDep,
)
from app.api.env_view import audited_run, reveals_env, task_env_fields
from app.api.policy_gate import enforce
from app.api.runs_view import run_public
from app.api.schedule_views import forecast_public, forecast_start, freeze_public
from app.db.engine import session_scope
from app.db.freezes import add_freeze, remove_freeze
from app.db.freezes import list_freezes as list_freezes_of
from app.db.moves import carry_task_extras
from app.db.runs import create_run, task_spec
from app.db.tables import Task, TaskGroup
from app.db.tasks import create_task, delete_task, get_task, update_task
from app.db.unit_of_work import record
from app.domain.events import DefinitionChanged, DispatchWanted
from app.domain.roles import Role, role_at_least
from app.domain.states import RunStatus, TriggerKind
from app.errors import Forbidden, InvalidInput
from app.models.schemas import (
    ForecastPublic,
    FreezeCreate,
    FreezePublic,
    RunPublic,
    TaskCreate,
    TaskPublic,
    TaskUpdate,
)
from app.scheduler.planner import plan_task
from app.security import submission_status

router = APIRouter(prefix="/tasks", tags=["tasks"])


def to_public(task: Task, *, reveal: bool = True) -> TaskPublic:
    """`reveal`: show env values (viewers get them masked); secret values never."""
    data = task.model_dump(exclude={"env_sealed"})
    data["tid"] = data.pop("id")
    data["group"] = data.pop("group_id")
    data.update(task_env_fields(task, reveal))
    return TaskPublic.model_validate(data)


# Fields a `user` may change on an active task without it waiting for an operator again.
_HARMLESS = frozenset({"name", "description", "active"})
# Fields a run policy judges: a change to one of them is checked again.
_POLICED = frozenset({"run_as_user", "mounts", "image", "target", "instance"})


def _visible(task: Task, scope: InstanceScope) -> Task:
    scope.check(task.instance, "task", task.id)
    return task


def _check_placement(
    session: Session, scope: InstanceScope, instance: str, group: int | None
) -> None:
    """The task's instance is granted, and its group lives in that same instance."""
    scope.require(instance)
    row = session.get(TaskGroup, group) if group is not None else None
    if row is not None and not scope.allows(row.instance):
        raise InvalidInput("group", f"no group with gid {group}")
    if row is not None and row.instance != instance:
        raise InvalidInput(
            "group", f"group {group} is in instance {row.instance!r}, the task in {instance!r}"
        )


def _user_guard(user_role: str, task: Task, changed: dict[str, object]) -> None:
    """A `user` cannot put a command on a schedule by itself: what a user writes stays
    inactive until an operator activates it (force runs of it wait for approval)."""
    if role_at_least(user_role, Role.OPERATOR):
        return
    if changed.get("active") is True and not task.active:
        raise Forbidden("active: only an operator can activate a task")
    if set(changed) - _HARMLESS:
        changed["active"] = False


@router.get("", response_model=list[TaskPublic])
def list_tasks(
    context: ContextDep,
    user: UserDep,
    scope: ScopeDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    active: bool | None = None,
    group: int | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TaskPublic]:
    stmt = select(Task).order_by(col(Task.id))
    if q:
        stmt = stmt.where(
            col(Task.name).contains(q, autoescape=True)
            | col(Task.description).contains(q, autoescape=True)
        )
    if active is not None:
        stmt = stmt.where(Task.active == active)
    if group is not None:
        stmt = stmt.where(Task.group_id == group)
    stmt = scope.filter(stmt, Task.instance)
    with session_scope(context.engine) as session:
        rows = session.exec(stmt.offset((page - 1) * page_size).limit(page_size)).all()
        return [to_public(t, reveal=reveals_env(user.role)) for t in rows]


@router.post("", response_model=TaskPublic, status_code=201)
def create(
    body: TaskCreate, context: ContextDep, user: WriterDep, scope: ScopeDep, audit: AuditDep
) -> TaskPublic:
    """Tasks a `user` creates start inactive: an operator activates them."""
    now = context.clock.now()
    with session_scope(context.engine) as session:
        _check_placement(session, scope, body.instance, body.group)
        fields = {k: getattr(body, k) for k in TaskCreate.model_fields}
        if not role_at_least(user.role, Role.OPERATOR):
            fields["active"] = False
        enforce(session, user.role, fields, body.instance, [body.target or ""])
        task = create_task(session, fields, now=now)
        plan_task(session, task, now=now)
        public = to_public(task)
        audit(
            session,
            action="task.create",
            target_kind="task",
            target_id=task.id,
            after=public,
            instance=task.instance,
        )
        record(session, DefinitionChanged("task", public.tid, "created"))
    return public


@router.get("/{tid}", response_model=TaskPublic)
def read(tid: int, context: ContextDep, user: UserDep, scope: ScopeDep) -> TaskPublic:
    with session_scope(context.engine) as session:
        return to_public(_visible(get_task(session, tid), scope), reveal=reveals_env(user.role))


@router.patch("/{tid}", response_model=TaskPublic)
def patch(
    tid: int,
    body: TaskUpdate,
    context: ContextDep,
    user: WriterDep,
    scope: ScopeDep,
    audit: AuditDep,
) -> TaskPublic:
    """A `user`'s change to anything but name, description or deactivation makes the task
    inactive again until an operator activates it."""
    now = context.clock.now()
    with session_scope(context.engine) as session:
        changed = {k: getattr(body, k) for k in body.model_fields_set}
        task = _visible(get_task(session, tid), scope)
        before = to_public(task)
        left = task.instance
        if "instance" in changed or "group" in changed:
            _check_placement(
                session,
                scope,
                changed.get("instance") or task.instance,
                changed["group"] if "group" in changed else task.group_id,
            )
        _user_guard(user.role, task, changed)
        task = update_task(session, task, changed, now=now)
        if set(changed) & _POLICED:
            enforce(session, user.role, task_spec(task), task.instance, [task.target or ""])
        if task.instance != left:
            carry_task_extras(session, [tid], task.instance)
        plan_task(session, task, now=now)
        public = to_public(task)
        for instance in dict.fromkeys((left, task.instance)):  # a move: both instances see it
            audit(
                session,
                action="task.update",
                target_kind="task",
                target_id=tid,
                before=before,
                after=public,
                instance=instance,
            )
        record(session, DefinitionChanged("task", public.tid, "updated"))
    return public


@router.delete("/{tid}", status_code=204)
def remove(
    tid: int, context: ContextDep, user: WriterDep, scope: ScopeDep, audit: AuditDep
) -> Response:
    with session_scope(context.engine) as session:
        task = _visible(get_task(session, tid), scope)
        audit(
            session,
            action="task.delete",
            target_kind="task",
            target_id=tid,
            before=to_public(task),
            instance=task.instance,
        )
        delete_task(session, task)
        record(session, DefinitionChanged("task", tid, "deleted"))
    return Response(status_code=204)


@router.post("/{tid}/run", response_model=RunPublic, status_code=201)
def force_run(
    tid: int, context: ContextDep, user: WriterDep, scope: ScopeDep, audit: AuditDep
) -> RunPublic:
    """Run now. A run a `user` submits waits in PENDING_APPROVAL for an operator."""
    now = context.clock.now()
    status = submission_status(user.role)
    with session_scope(context.engine) as session:
        task = _visible(get_task(session, tid), scope)
        enforce(session, user.role, task_spec(task), task.instance, [task.target or ""])
        verb = "forced" if status is RunStatus.ACTIVE else "submitted for approval"
        run = create_run(
            session,
            at=now,
            status=status,
            trigger_kind=TriggerKind.MANUAL,
            spec=task_spec(task),
            task=task,
            created_by=user.username,
            detail=f"{verb} by {user.username}",
        )
        public = run_public(run)
        audit(
            session,
            action="task.run",
            target_kind="run",
            target_id=run.id,
            after=audited_run(session, run),
            instance=run.instance,
            detail=f"task {tid} {verb}",
        )
        if status is RunStatus.ACTIVE:
            record(session, DispatchWanted())
    return public


@router.get("/{tid}/forecast", response_model=ForecastPublic)
def task_forecast(
    tid: int,
    context: ContextDep,
    user: UserDep,
    scope: ScopeDep,
    count: Annotated[int, Query(ge=1, le=10_000)] = 10,
    after: datetime | None = None,
) -> ForecastPublic:
    start = forecast_start(after, context.clock.now())
    with session_scope(context.engine) as session:
        task = _visible(get_task(session, tid), scope)
        return forecast_public(session, tid, task.schedule, start, count)


@router.get("/{tid}/freezes", response_model=list[FreezePublic])
def list_freezes(
    tid: int, context: ContextDep, user: UserDep, scope: ScopeDep
) -> list[FreezePublic]:
    with session_scope(context.engine) as session:
        _visible(get_task(session, tid), scope)
        return [freeze_public(r) for r in list_freezes_of(session, task_id=tid)]


@router.post("/{tid}/freezes", response_model=FreezePublic, status_code=201)
def freeze(
    tid: int,
    body: FreezeCreate,
    context: ContextDep,
    user: OperatorDep,
    scope: ScopeDep,
    audit: AuditDep,
) -> FreezePublic:
    """Freeze the task for one date (in its schedule's timezone): that day's runs are skipped."""
    with session_scope(context.engine) as session:
        task = _visible(get_task(session, tid), scope)
        public = freeze_public(
            add_freeze(
                session,
                body.date,
                reason=body.reason,
                who=user.username,
                now=context.clock.now(),
                task_id=tid,
            )
        )
        audit(
            session,
            action="task.freeze",
            target_kind="task",
            target_id=tid,
            after=public,
            instance=task.instance,
        )
    return public


@router.delete("/{tid}/freezes/{day}", status_code=204)
def unfreeze(
    tid: int, day: date, context: ContextDep, user: OperatorDep, scope: ScopeDep, audit: AuditDep
) -> Response:
    with session_scope(context.engine) as session:
        task = _visible(get_task(session, tid), scope)
        row = remove_freeze(session, day, task_id=tid)
        audit(
            session,
            action="task.unfreeze",
            target_kind="task",
            target_id=tid,
            before=freeze_public(row),
            instance=task.instance,
        )
    return Response(status_code=204)
