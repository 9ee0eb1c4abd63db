"""Tasks: list and read them in the caller's scope, create, change and delete them (each
audited, the schedule re-planned, the scheduler hearing of it after the commit), force a run now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db import tasks as task_rows
from app.db.engine import session_scope
from app.db.moves import carry_task_extras
from app.db.placeholder_checks import check_task_placeholders
from app.db.run_admission import set_priority
from app.db.runs import create_run, task_spec
from app.db.tables import Agent, Task, TaskGroup
from app.db.unit_of_work import record
from app.domain.events import DefinitionChanged, DispatchWanted
from app.domain.roles import Role
from app.domain.states import RunStatus, TriggerKind
from app.errors import Forbidden, InvalidInput
from app.models.param_schemas import RunRequest, TaskRunRequest
from app.models.schemas import ForecastPublic, RunPublic, TaskCreate, TaskPublic, TaskUpdate
from app.scheduler.planner import plan_task
from app.security import submission_status
from app.services.actor import Actor
from app.services.env_view import audited_run, reveals_env, task_env_fields
from app.services.policy_gate import enforce
from app.services.run_requests import task_inputs
from app.services.runs_view import run_public
from app.services.schedule_views import forecast_public
from app.services.scope import InstanceScope

# Fields a `user` may change on an active task without it waiting for an operator again.
_HARMLESS = frozenset({"name", "description", "active"})
# Fields a run policy judges: a change to one of them is checked again.
_POLICED = frozenset({"run_as_user", "mounts", "image", "target", "instance"})


def task_public(task: Task, *, reveal: bool = True) -> TaskPublic:
    """`reveal`: show env values (viewers get them masked); secret values never."""
    data = task.model_dump(exclude={"env_sealed"})
    data["tid"] = data.pop("id")
    data["group"] = data.pop("group_id")
    data.update(task_env_fields(task, reveal))
    return TaskPublic.model_validate(data)


def visible_task(session: Session, scope: InstanceScope, tid: int) -> Task:
    """The task, or NotFound when it does not exist or lies outside the scope."""
    task = task_rows.get_task(session, tid)
    scope.check(task.instance, "task", task.id)
    return task


def list_tasks(
    session: Session,
    *,
    actor: Actor,
    q: str | None = None,
    active: bool | None = None,
    group: int | None = None,
    page: int = 1,
    page_size: int = 100,
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
    stmt = actor.scope.filter(stmt, Task.instance)
    rows = session.exec(stmt.offset((page - 1) * page_size).limit(page_size)).all()
    return [task_public(t, reveal=reveals_env(actor.role)) for t in rows]


def read_task(session: Session, *, actor: Actor, tid: int) -> TaskPublic:
    return task_public(visible_task(session, actor.scope, tid), reveal=reveals_env(actor.role))


def task_forecast(
    session: Session, *, actor: Actor, tid: int, start: datetime, count: int
) -> ForecastPublic:
    task = visible_task(session, actor.scope, tid)
    group = session.get(TaskGroup, task.group_id) if task.group_id is not None else None
    if group is not None:  # it fires when its group does: the group's times are its own
        return forecast_public(session, group, start, count, task=tid)
    return forecast_public(session, task, start, count)


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


def _user_guard(actor: Actor, task: Task, changed: dict[str, object]) -> None:
    """A `user` cannot put a command on a schedule by itself: what a user writes stays
    inactive until an operator activates it (force runs of it wait for approval)."""
    if actor.at_least(Role.OPERATOR):
        return
    if changed.get("active") is True and not task.active:
        raise Forbidden("active: only an operator can activate a task")
    if set(changed) - _HARMLESS:
        changed["active"] = False


def create_task(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    body: TaskCreate,
) -> TaskPublic:
    """Tasks a `user` creates start inactive: an operator activates them."""
    actor.require(Role.USER)
    with session_scope(engine) as session:
        _check_placement(session, actor.scope, body.instance, body.group)
        fields = {k: getattr(body, k) for k in TaskCreate.model_fields}
        if not actor.at_least(Role.OPERATOR):
            fields["active"] = False
        enforce(session, actor.role, fields, body.instance, [body.target or ""])
        task = task_rows.create_task(session, fields, now=now)
        check_task_placeholders(session, task)
        plan_task(session, task, now=now)
        public = task_public(task)
        actor.audit(
            session,
            at=now,
            action="task.create",
            target_kind="task",
            target_id=task.id,
            after=public,
            instance=task.instance,
        )
        record(session, DefinitionChanged("task", public.tid, "created"))
    return public


def update_task(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    tid: int,
    body: TaskUpdate,
) -> TaskPublic:
    """A `user`'s change to anything but name, description or deactivation makes the task
    inactive again until an operator activates it."""
    actor.require(Role.USER)
    with session_scope(engine) as session:
        changed = {k: getattr(body, k) for k in body.model_fields_set}
        task = visible_task(session, actor.scope, tid)
        return change_task(session, actor=actor, now=now, task=task, changed=changed)


def change_task(
    session: Session,
    *,
    actor: Actor,
    now: datetime,
    task: Task,
    changed: dict[str, object],
    action: str = "task.update",
) -> TaskPublic:
    """An edit's checks and effects in the caller's transaction (an update, a rollback):
    placement, the user guard, row checks, placeholders, run policies, the re-plan, the
    audit in both instances of a move, and the timers told after the commit."""
    tid = task.id or 0
    before = task_public(task)
    left = task.instance
    if "instance" in changed or "group" in changed:
        target = changed.get("instance") or task.instance
        group = changed["group"] if "group" in changed else task.group_id
        _check_placement(session, actor.scope, str(target), group)  # type: ignore[arg-type]
    _user_guard(actor, task, changed)
    task = task_rows.update_task(session, task, changed, now=now)
    check_task_placeholders(session, task)
    if set(changed) & _POLICED:
        enforce(session, actor.role, task_spec(task), task.instance, [task.target or ""])
    if task.instance != left:
        carry_task_extras(session, [tid], task.instance)
    plan_task(session, task, now=now)
    public = task_public(task)
    for instance in dict.fromkeys((left, task.instance)):  # a move: both instances see it
        actor.audit(
            session,
            at=now,
            action=action,
            target_kind="task",
            target_id=tid,
            before=before,
            after=public,
            instance=instance,
        )
    record(session, DefinitionChanged("task", public.tid, "updated"))
    return public


def delete_task(engine: Engine, *, actor: Actor, now: datetime, tid: int) -> None:
    actor.require(Role.USER)
    with session_scope(engine) as session:
        task = visible_task(session, actor.scope, tid)
        actor.audit(
            session,
            at=now,
            action="task.delete",
            target_kind="task",
            target_id=tid,
            before=task_public(task),
            instance=task.instance,
        )
        task_rows.delete_task(session, task)
        record(session, DefinitionChanged("task", tid, "deleted"))


def force_run(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    tid: int,
    request: RunRequest | None = None,
    priority: int | None = None,
) -> RunPublic:
    """Run now, for the given business date and parameter values (`request`). A run a
    `user` submits waits in PENDING_APPROVAL for an operator. `priority` (operators and
    above) replaces the task's for this run."""
    actor.require(Role.USER)
    if priority is not None and not actor.at_least(Role.OPERATOR):
        raise Forbidden("priority: only an operator or above sets a run's priority")
    status = submission_status(actor.role)
    with session_scope(engine) as session:
        task = visible_task(session, actor.scope, tid)
        spec = _spec_on_agent(session, task, request)
        enforce(session, actor.role, spec, task.instance, [spec["target"] or ""])
        business_date, params = task_inputs(session, task, request, now)
        verb = "forced" if status is RunStatus.ACTIVE else "submitted for approval"
        run = create_run(
            session,
            at=now,
            status=status,
            trigger_kind=TriggerKind.MANUAL,
            spec=spec,
            task=task,
            created_by=actor.username,
            detail=f"{verb} by {actor.username}" + _on_agent(task, spec),
            business_date=business_date,
            params=params,
        )
        if priority is not None:
            set_priority(run, priority)
            session.flush()
        public = run_public(run)
        actor.audit(
            session,
            at=now,
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


def _spec_on_agent(session: Session, task: Task, request: RunRequest | None) -> dict[str, Any]:
    """The task's spec, on the agent a TaskRunRequest chose (one known by name) if any."""
    spec = task_spec(task)
    agent = request.agent if isinstance(request, TaskRunRequest) else None
    if agent is None:
        return spec
    if session.exec(select(Agent.name).where(Agent.name == agent)).first() is None:
        raise InvalidInput("agent", f"unknown agent {agent!r}")
    return {**spec, "target": agent}


def _on_agent(task: Task, spec: dict[str, Any]) -> str:
    return f" on {spec['target']}" if spec["target"] and spec["target"] != task.target else ""
