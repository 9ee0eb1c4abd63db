"""/groups: definitions and membership, forecasts, forced group runs (edges, dependencies and
the graph are in group_dag.py, freezes in group_freezes.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlmodel import Session, col, select

from app.api.deps import (
    AuditDep,
    ContextDep,
    OperatorDep,
    ScopeDep,
    UserDep,
    WriterDep,
)
from app.db.engine import session_scope
from app.db.groups import (
    create_group,
    delete_group,
    get_group,
    member_ids,
    update_group,
    upstream_groups,
)
from app.db.moves import move_group
from app.db.tables import GroupRun, Task, TaskGroup
from app.domain.group_run_states import GroupRunStatus
from app.domain.roles import Role, can_see_instance, role_at_least
from app.domain.states import TriggerKind
from app.errors import Forbidden, InvalidInput, NotFound
from app.models.group_schemas import (
    GroupCreate,
    GroupPublic,
    GroupRunPublic,
    GroupUpdate,
)
from app.models.schemas import (
    ForecastPublic,
)
from app.scheduler.group_planner import plan_group
from app.scheduler.group_runs import start_group_run
from app.scheduler.planner import plan_tasks
from app.services.schedule_views import forecast_public, forecast_start

router = APIRouter(prefix="/groups", tags=["groups"])

# Fields a `user` may change on an active group without it waiting for an operator again.
_HARMLESS = frozenset({"name", "description", "active"})


def visible_group(group: TaskGroup, instances: list[str]) -> TaskGroup:
    if not can_see_instance(instances, group.instance):
        raise NotFound("group", group.id)
    return group


def _user_guard(user_role: str, group: TaskGroup, changed: dict[str, object]) -> None:
    """As for tasks: a `user` cannot activate (unfreeze) a group, and a user's change of its
    schedule, members or instance leaves it inactive until an operator activates it."""
    if role_at_least(user_role, Role.OPERATOR):
        return
    if changed.get("active") is True and not group.active:
        raise Forbidden("active: only an operator can activate a group")
    if set(changed) - _HARMLESS:
        changed["active"] = False


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
        active=group.active,
        instance=group.instance,
        tasks=member_ids(session, group.id or 0),
        upstream_groups=upstream_groups(session, group.id or 0),
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
        created_by=group_run.created_by,
        finished_at=group_run.finished_at,
    )


@router.get("", response_model=list[GroupPublic])
def list_groups(
    context: ContextDep,
    user: UserDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    active: bool | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[GroupPublic]:
    stmt = select(TaskGroup).order_by(col(TaskGroup.id))
    if q:
        stmt = stmt.where(col(TaskGroup.name).contains(q, autoescape=True))
    if active is not None:
        stmt = stmt.where(TaskGroup.active == active)
    if "*" not in user.instances:
        stmt = stmt.where(col(TaskGroup.instance).in_(user.instances))
    with session_scope(context.engine) as session:
        rows = session.exec(stmt.offset((page - 1) * page_size).limit(page_size)).all()
        return [group_public(session, g) for g in rows]


@router.post("", response_model=GroupPublic, status_code=201)
def create(body: GroupCreate, context: ContextDep, user: WriterDep, audit: AuditDep) -> GroupPublic:
    if not can_see_instance(user.instances, body.instance):
        raise InvalidInput("instance", f"instance {body.instance!r} is not granted to you")
    now = context.clock.now()
    fields = {k: getattr(body, k) for k in GroupCreate.model_fields}
    if not role_at_least(user.role, Role.OPERATOR):
        fields["active"] = False  # a user's group waits for an operator, as a task does
    with session_scope(context.engine) as session:
        group = create_group(session, fields, now=now)
        planned = plan_group(session, group, now=now)
        public = group_public(session, group)
        audit(
            session,
            action="group.create",
            target_kind="group",
            target_id=public.gid,
            after=public,
            instance=group.instance,
        )
    context.scheduler.group_changed(public.gid, planned.trigger_time if planned else None)
    return public


@router.get("/{gid}", response_model=GroupPublic)
def read(gid: int, context: ContextDep, user: UserDep) -> GroupPublic:
    with session_scope(context.engine) as session:
        return group_public(session, visible_group(get_group(session, gid), user.instances))


@router.patch("/{gid}", response_model=GroupPublic)
def patch(
    gid: int,
    body: GroupUpdate,
    context: ContextDep,
    user: WriterDep,
    scope: ScopeDep,
    audit: AuditDep,
) -> GroupPublic:
    """A move (`instance`) takes the group's tasks, planned runs and alert rules along; the
    new instance must be granted, and the change is audited in both instances."""
    now = context.clock.now()
    changed = {k: getattr(body, k) for k in body.model_fields_set}
    moved: list[Task] = []
    with session_scope(context.engine) as session:
        group = visible_group(get_group(session, gid), user.instances)
        before = group_public(session, group)
        left = group.instance
        _user_guard(user.role, group, changed)
        target = changed.get("instance")
        if isinstance(target, str) and target != left:
            scope.require(target)
            moved = move_group(session, group, target)
            if not role_at_least(user.role, Role.OPERATOR):
                for task in moved:  # a user's move waits for an operator, as any edit
                    task.active = False
        update_group(session, group, changed, now=now)
        planned = plan_group(session, group, now=now)
        if moved:
            plan_tasks(session, moved, now=now)
        moved_next = [(task.id or 0, task.next_fire_time) for task in moved]
        public = group_public(session, group)
        for instance in dict.fromkeys((left, group.instance)):
            audit(
                session,
                action="group.update",
                target_kind="group",
                target_id=gid,
                before=before,
                after=public,
                instance=instance,
            )
    context.scheduler.group_changed(gid, planned.trigger_time if planned else None)
    for tid, at in moved_next:
        context.scheduler.task_changed(tid, at)
    return public


@router.delete("/{gid}", status_code=204)
def remove(gid: int, context: ContextDep, user: WriterDep, audit: AuditDep) -> Response:
    with session_scope(context.engine) as session:
        group = visible_group(get_group(session, gid), user.instances)
        audit(
            session,
            action="group.delete",
            target_kind="group",
            target_id=gid,
            before=group_public(session, group),
            instance=group.instance,
        )
        delete_group(session, group)
    context.scheduler.group_changed(gid, None)
    return Response(status_code=204)


@router.get("/{gid}/forecast", response_model=ForecastPublic)
def group_forecast(
    gid: int,
    context: ContextDep,
    user: UserDep,
    count: Annotated[int, Query(ge=1, le=10_000)] = 10,
    after: datetime | None = None,
) -> ForecastPublic:
    start = forecast_start(after, context.clock.now())
    with session_scope(context.engine) as session:
        group = visible_group(get_group(session, gid), user.instances)
        return forecast_public(session, gid, group.schedule, start, count)


@router.post("/{gid}/run", response_model=GroupRunPublic, status_code=201)
def force_group_run(
    gid: int, context: ContextDep, user: OperatorDep, audit: AuditDep
) -> GroupRunPublic:
    """Start a group run now: every task gets its run, the DAG releases them."""
    with session_scope(context.engine) as session:
        group = visible_group(get_group(session, gid), user.instances)
        group_run = start_group_run(
            session,
            group,
            now=context.clock.now(),
            kind=TriggerKind.MANUAL,
            created_by=user.username,
        )
        public = group_run_public(group_run)
        audit(
            session,
            action="group.run",
            target_kind="group_run",
            target_id=public.id,
            after=public,
            instance=group.instance,
        )
    context.scheduler.wake_dispatch()
    return public
