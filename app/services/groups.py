"""Groups: list and read them in the caller's scope, create, change (a move takes its tasks
along) and delete them, each audited and re-planned, and force a group run now."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db import groups as group_rows
from app.db.engine import session_scope
from app.db.groups import member_ids, upstream_groups
from app.db.moves import move_group
from app.db.placeholder_checks import check_group_placeholders
from app.db.tables import GroupRun, Task, TaskGroup
from app.db.unit_of_work import record
from app.domain.events import DefinitionChanged, DispatchWanted
from app.domain.group_run_states import GroupRunStatus
from app.domain.roles import Role
from app.domain.states import TriggerKind
from app.errors import Forbidden
from app.models.group_schemas import GroupCreate, GroupPublic, GroupRunPublic, GroupUpdate
from app.models.param_schemas import RunRequest
from app.models.schemas import ForecastPublic
from app.scheduler.group_planner import plan_group
from app.scheduler.group_runs import start_group_run
from app.scheduler.planner import plan_tasks
from app.services.actor import Actor
from app.services.run_requests import group_inputs
from app.services.schedule_views import forecast_public
from app.services.scope import InstanceScope

# Fields a `user` may change on an active group without it waiting for an operator again.
_HARMLESS = frozenset({"name", "description", "active"})


def visible_group(session: Session, scope: InstanceScope, gid: int) -> TaskGroup:
    """The group, or NotFound when it does not exist or lies outside the scope."""
    group = group_rows.get_group(session, gid)
    scope.check(group.instance, "group", gid)
    return group


def group_public(session: Session, group: TaskGroup) -> GroupPublic:
    idle = session.exec(
        select(GroupRun.trigger_time).where(
            GroupRun.group_id == group.id, GroupRun.status == GroupRunStatus.IDLE.value
        )
    ).first()
    return GroupPublic(
        gid=group.id or 0,
        name=group.name,
        description=group.description,
        schedule=group.schedule,
        schedules=group.schedules,
        blackouts=group.blackouts,
        active=group.active,
        instance=group.instance,
        tasks=member_ids(session, group.id or 0),
        params=list(group.params or []),
        upstream_groups=upstream_groups(session, group.id or 0),
        variable_sets=list(group.variable_sets),
        pool=group.pool,
        pool_slots=group.pool_slots,
        priority=group.priority,
        locks=list(group.locks),
        managed_by=group.managed_by,
        managed_file=group.managed_file,
        managed_commit=group.managed_commit,
        next_fire_time=idle,
        created_at=group.created_at,
        updated_at=group.updated_at,
    )


def group_run_public(group_run: GroupRun) -> GroupRunPublic:
    return GroupRunPublic(
        id=group_run.id or 0,
        group=group_run.group_id,
        status=group_run.status,
        trigger_kind=group_run.trigger_kind,
        trigger_time=group_run.trigger_time,
        business_date=group_run.business_date,
        params=dict(group_run.params or {}),
        created_by=group_run.created_by,
        finished_at=group_run.finished_at,
        reason=group_run.reason,
        group_version=group_run.group_version,
    )


def _user_guard(actor: Actor, group: TaskGroup, changed: dict[str, object]) -> None:
    """As for tasks: a `user` cannot activate (unfreeze) a group, and a user's change of its
    schedule, members or instance leaves it inactive until an operator activates it."""
    if actor.at_least(Role.OPERATOR):
        return
    if changed.get("active") is True and not group.active:
        raise Forbidden("active: only an operator can activate a group")
    if set(changed) - _HARMLESS:
        changed["active"] = False


def list_groups(
    session: Session,
    *,
    actor: Actor,
    q: str | None = None,
    active: bool | None = None,
    page: int = 1,
    page_size: int = 100,
) -> list[GroupPublic]:
    stmt = select(TaskGroup).order_by(col(TaskGroup.id))
    if q:
        stmt = stmt.where(col(TaskGroup.name).contains(q, autoescape=True))
    if active is not None:
        stmt = stmt.where(TaskGroup.active == active)
    stmt = actor.scope.filter(stmt, TaskGroup.instance)
    rows = session.exec(stmt.offset((page - 1) * page_size).limit(page_size)).all()
    return [group_public(session, g) for g in rows]


def group_choices(session: Session, *, actor: Actor) -> list[dict[str, object]]:
    """Every group in the caller's scope as a form or filter offers it (gid, name, active),
    in one query: the full `GroupPublic` costs three queries a group."""
    stmt = (
        select(TaskGroup.id, TaskGroup.name, TaskGroup.active)
        .where(actor.scope.condition(TaskGroup.instance))
        .order_by(col(TaskGroup.id))
    )
    return [
        {"gid": gid, "name": name, "active": active}
        for gid, name, active in session.exec(stmt).all()
        if gid is not None
    ]


def names_and_states(
    session: Session, *, actor: Actor, gids: Collection[int]
) -> dict[int, tuple[str, bool]]:
    """gid -> (name, active) of the `gids` in the caller's scope: what a list of tasks shows
    of their groups, in one query whatever the number of groups."""
    if not gids:
        return {}
    stmt = select(TaskGroup.id, TaskGroup.name, TaskGroup.active).where(
        col(TaskGroup.id).in_(sorted(gids)), actor.scope.condition(TaskGroup.instance)
    )
    return {gid: (name, active) for gid, name, active in session.exec(stmt).all() if gid}


def read_group(session: Session, *, actor: Actor, gid: int) -> GroupPublic:
    return group_public(session, visible_group(session, actor.scope, gid))


def group_forecast(
    session: Session, *, actor: Actor, gid: int, start: datetime, count: int
) -> ForecastPublic:
    group = visible_group(session, actor.scope, gid)
    return forecast_public(session, group, start, count)


def create_group(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    body: GroupCreate,
) -> GroupPublic:
    actor.require(Role.USER)
    actor.scope.require(body.instance)
    fields = {k: getattr(body, k) for k in GroupCreate.model_fields}
    if not actor.at_least(Role.OPERATOR):
        fields["active"] = False  # a user's group waits for an operator, as a task does
    with session_scope(engine) as session:
        group = group_rows.create_group(session, fields, now=now)
        check_group_placeholders(session, group)
        plan_group(session, group, now=now)
        public = group_public(session, group)
        actor.audit(
            session,
            at=now,
            action="group.create",
            target_kind="group",
            target_id=public.gid,
            after=public,
            instance=group.instance,
        )
        record(session, DefinitionChanged("group", public.gid, "created"))
    return public


def update_group(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    gid: int,
    body: GroupUpdate,
) -> GroupPublic:
    """A move (`instance`) takes the group's tasks, planned runs and alert rules along; the
    new instance must be granted, and the change is audited in both instances."""
    actor.require(Role.USER)
    changed = {k: getattr(body, k) for k in body.model_fields_set}
    with session_scope(engine) as session:
        group = visible_group(session, actor.scope, gid)
        return change_group(session, actor=actor, now=now, group=group, changed=changed)


def change_group(
    session: Session,
    *,
    actor: Actor,
    now: datetime,
    group: TaskGroup,
    changed: dict[str, object],
    action: str = "group.update",
) -> GroupPublic:
    """An edit's checks and effects in the caller's transaction (an update, a rollback)."""
    gid = group.id or 0
    moved: list[Task] = []
    before = group_public(session, group)
    left = group.instance
    _user_guard(actor, group, changed)
    target = changed.get("instance")
    if isinstance(target, str) and target != left:
        actor.scope.require(target)
        moved = move_group(session, group, target)
        if not actor.at_least(Role.OPERATOR):
            for task in moved:  # a user's move waits for an operator, as any edit
                task.active = False
    group_rows.update_group(session, group, changed, now=now)
    if {"params", "tasks"} & set(changed):
        check_group_placeholders(session, group)
    plan_group(session, group, now=now)
    if moved:
        plan_tasks(session, moved, now=now)
    public = group_public(session, group)
    for instance in dict.fromkeys((left, group.instance)):
        actor.audit(
            session,
            at=now,
            action=action,
            target_kind="group",
            target_id=gid,
            before=before,
            after=public,
            instance=instance,
        )
    record(
        session,
        DefinitionChanged("group", gid),
        *(DefinitionChanged("task", task.id or 0) for task in moved),
    )
    return public


def delete_group(engine: Engine, *, actor: Actor, now: datetime, gid: int) -> None:
    actor.require(Role.USER)
    with session_scope(engine) as session:
        group = visible_group(session, actor.scope, gid)
        actor.audit(
            session,
            at=now,
            action="group.delete",
            target_kind="group",
            target_id=gid,
            before=group_public(session, group),
            instance=group.instance,
        )
        group_rows.delete_group(session, group)
        record(session, DefinitionChanged("group", gid, "deleted"))


def force_group_run(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    gid: int,
    request: RunRequest | None = None,
) -> GroupRunPublic:
    """Start a group run now, for the given business date and parameter values: every task
    gets its run (with the group's values and its own), the DAG releases them."""
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        group = visible_group(session, actor.scope, gid)
        tasks = list(session.exec(select(Task).where(Task.group_id == group.id)).all())
        business_date, given = group_inputs(group, tasks, request, now)
        group_run = start_group_run(
            session,
            group,
            now=now,
            kind=TriggerKind.MANUAL,
            created_by=actor.username,
            business_date=business_date,
            params=given,
        )
        public = group_run_public(group_run)
        actor.audit(
            session,
            at=now,
            action="group.run",
            target_kind="group_run",
            target_id=public.id,
            after=public,
            instance=group.instance,
        )
        record(session, DispatchWanted())
    return public
