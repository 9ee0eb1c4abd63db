"""Backfills: plan a task's or group's dates over a range (a dry run stores nothing), store
the plan for the leader to start, and read them in the caller's scope.

Roles: anyone who sees the task or group may preview (dry run); a `user`'s backfill waits as
a whole in `pending_approval` for an operator (app/services/backfill_controls.py), an
operator's starts at once. Every run it makes meets the run policies of its instance.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db import backfills as rows
from app.db.backfill_tables import Backfill
from app.db.engine import session_scope
from app.db.runs import task_spec
from app.db.tables import Task, TaskGroup
from app.db.unit_of_work import record
from app.domain.backfill_plan import DatePlan, plan_dates, run_dates
from app.domain.events import DispatchWanted
from app.domain.roles import Role
from app.domain.schedules import Schedule, parse_schedule
from app.errors import InvalidInput
from app.models.backfill_schemas import BackfillCreate, BackfillPublic
from app.models.param_schemas import RunRequest
from app.scheduler.planner import Calendars
from app.services.actor import Actor
from app.services.backfill_view import backfill_public, preview_public
from app.services.groups import visible_group
from app.services.policy_gate import enforce
from app.services.run_requests import group_inputs, task_inputs
from app.services.tasks import visible_task

Target = Task | TaskGroup


def start_backfill(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    body: BackfillCreate,
    confirm_over: int,
    task_id: int | None = None,
    group_id: int | None = None,
) -> BackfillPublic:
    """Plan (and unless `dry_run`, store) a backfill of one task or group. More run dates
    than `confirm_over` need `confirm: true`."""
    if not body.dry_run:
        actor.require(Role.USER)
    with session_scope(engine) as session:
        target: Target = (
            visible_group(session, actor.scope, group_id)
            if group_id is not None
            else visible_task(session, actor.scope, task_id or 0)
        )
        params = _resolve_params(session, target, body.params, now)
        plans = _plan(session, target, body)
        row = _row(target, body, params, actor, now)
        count = len(run_dates(plans))
        if body.dry_run:
            return preview_public(row, plans)
        if count > confirm_over and not body.confirm:
            raise InvalidInput(
                "confirm",
                f"{count} dates would run, more than {confirm_over}: send confirm: true",
            )
        for task in _tasks_of(session, target):
            enforce(session, actor.role, task_spec(task), task.instance, [task.target or ""])
        waits = not actor.at_least(Role.OPERATOR)
        row.status = rows.PENDING_APPROVAL if waits else rows.RUNNING
        if count == 0:
            row.status, row.finished_at = rows.DONE, now
        session.add(row)
        session.flush()
        rows.store_dates(session, row, plans)
        session.flush()
        summary = preview_public(row, plans).model_dump(mode="json", exclude={"dates"})
        actor.audit(
            session,
            at=now,
            action="backfill.create",
            target_kind="backfill",
            target_id=row.id,
            after={**summary, "status": row.status},
            instance=row.instance,
            detail=f"{count} dates of {row.target_name}",
        )
        if row.status == rows.RUNNING:
            record(session, DispatchWanted())
        return backfill_public(session, row)


def _row(
    target: Target, body: BackfillCreate, params: dict[str, object], actor: Actor, now: datetime
) -> Backfill:
    return Backfill(
        task_id=target.id if isinstance(target, Task) else None,
        group_id=target.id if isinstance(target, TaskGroup) else None,
        target_name=target.name,
        start=body.start,
        end=body.end,
        mode=body.mode,
        order=body.order,
        max_concurrent=body.max_concurrent,
        params=params,
        status=rows.RUNNING,
        instance=target.instance,
        created_by=actor.username,
        created_at=now,
        updated_at=now,
    )


def _plan(session: Session, target: Target, body: BackfillCreate) -> list[DatePlan]:
    schedule = _schedule_of(session, target)
    calendar = Calendars(session).for_schedule(schedule) if schedule is not None else None
    is_group = isinstance(target, TaskGroup)
    seen = rows.history(
        session,
        task_id=None if is_group else target.id,
        group_id=target.id if is_group else None,
        start=body.start,
        end=body.end,
    )
    try:
        return plan_dates(
            start=body.start,
            end=body.end,
            schedule=schedule,
            calendar=calendar,
            mode=body.mode,
            order=body.order,
            history=seen,
        )
    except ValueError as exc:  # the range: the schema checked it already
        field, _, problem = str(exc).partition(": ")
        raise InvalidInput(field, problem) from None


def _schedule_of(session: Session, target: Target) -> Schedule | None:
    """A task in a group backfills through its group's schedule (its own times are only a
    "not before" inside the group)."""
    data = target.schedule
    if isinstance(target, Task) and target.group_id is not None:
        group = session.get(TaskGroup, target.group_id)
        data = group.schedule if group is not None else None
    if not data:
        return None
    try:
        return parse_schedule(data)
    except ValidationError:
        raise InvalidInput("schedule", "the stored schedule is not valid any more") from None


def _tasks_of(session: Session, target: Target) -> list[Task]:
    if isinstance(target, Task):
        return [target]
    return list(
        session.exec(select(Task).where(Task.group_id == target.id).order_by(col(Task.id))).all()
    )


def _resolve_params(
    session: Session, target: Target, given: dict[str, Any], now: datetime
) -> dict[str, object]:
    """What the backfill stores: for a task, its typed values (given, else defaults; with
    its group's when in one); for a group, the given values checked against the group's and
    its tasks' declarations (each task resolves its own per run). A bad one is a 422 naming
    `params.NAME` (app/domain/params.py)."""
    request = RunRequest(params=given)
    if isinstance(target, Task):
        return task_inputs(session, target, request, now)[1]
    return group_inputs(target, _tasks_of(session, target), request, now)[1]


# ---- reads ----------------------------------------------------------------------------
def visible_backfill(session: Session, actor: Actor, backfill_id: int) -> Backfill:
    row = rows.get_backfill(session, backfill_id)
    actor.scope.check(row.instance, "backfill", backfill_id)
    return row


def read_backfill(session: Session, *, actor: Actor, backfill_id: int) -> BackfillPublic:
    return backfill_public(session, visible_backfill(session, actor, backfill_id))


def list_backfills(
    session: Session,
    *,
    actor: Actor,
    task: int | None = None,
    group: int | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> list[BackfillPublic]:
    """Newest first, without their dates (GET /backfills/{id} has them)."""
    stmt = select(Backfill).order_by(col(Backfill.id).desc())
    if task is not None:
        stmt = stmt.where(Backfill.task_id == task)
    if group is not None:
        stmt = stmt.where(Backfill.group_id == group)
    if status is not None:
        stmt = stmt.where(Backfill.status == status)
    stmt = actor.scope.filter(stmt, Backfill.instance)
    found = session.exec(stmt.offset((page - 1) * page_size).limit(page_size)).all()
    return [backfill_public(session, row, with_dates=False) for row in found]
