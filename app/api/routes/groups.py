"""/groups: definitions, membership, dependency edges, group dependencies, runs, graph."""

from __future__ import annotations

from datetime import date, datetime
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
from app.api.group_schemas import (
    EdgeBody,
    EdgeRef,
    GraphEdge,
    GraphNode,
    GraphPublic,
    GroupCreate,
    GroupDependencyBody,
    GroupPublic,
    GroupRunPublic,
    GroupUpdate,
)
from app.api.schedule_views import forecast_public, forecast_start, freeze_public
from app.api.schemas import (
    ForecastPublic,
    FreezeCreate,
    FreezePublic,
)
from app.db.engine import session_scope
from app.db.freezes import add_freeze, remove_freeze
from app.db.freezes import list_freezes as list_freezes_of
from app.db.groups import (
    add_edge,
    add_group_dependency,
    create_group,
    delete_group,
    get_group,
    group_edges,
    member_ids,
    remove_edge,
    task_names,
    update_group,
    upstream_groups,
)
from app.db.moves import move_group
from app.db.tables import GroupDependency, GroupRun, Run, Task, TaskGroup
from app.domain.dag import Edge, EdgeCondition, generations
from app.domain.group_run_states import GroupRunStatus
from app.domain.roles import Role, can_see_instance, role_at_least
from app.domain.states import TriggerKind
from app.errors import Forbidden, InvalidInput, NotFound
from app.scheduler.group_planner import plan_group
from app.scheduler.group_runs import start_group_run
from app.scheduler.planner import plan_tasks

router = APIRouter(prefix="/groups", tags=["groups"])

# Fields a `user` may change on an active group without it waiting for an operator again.
_HARMLESS = frozenset({"name", "description", "active"})


def _visible(group: TaskGroup, instances: list[str]) -> TaskGroup:
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


def _public(session: Session, group: TaskGroup) -> GroupPublic:
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
        return [_public(session, g) for g in rows]


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
        public = _public(session, group)
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
        return _public(session, _visible(get_group(session, gid), user.instances))


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
        group = _visible(get_group(session, gid), user.instances)
        before = _public(session, group)
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
        public = _public(session, group)
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
        group = _visible(get_group(session, gid), user.instances)
        audit(
            session,
            action="group.delete",
            target_kind="group",
            target_id=gid,
            before=_public(session, group),
            instance=group.instance,
        )
        delete_group(session, group)
    context.scheduler.group_changed(gid, None)
    return Response(status_code=204)


@router.get("/{gid}/edges", response_model=list[EdgeBody])
def list_edges(gid: int, context: ContextDep, user: UserDep) -> list[EdgeBody]:
    with session_scope(context.engine) as session:
        _visible(get_group(session, gid), user.instances)
        return [
            EdgeBody(upstream=e.upstream, downstream=e.downstream, condition=e.condition.value)
            for e in group_edges(session, gid)
        ]


@router.post("/{gid}/edges", response_model=EdgeBody, status_code=201)
def create_edge(
    gid: int, body: EdgeBody, context: ContextDep, user: WriterDep, audit: AuditDep
) -> EdgeBody:
    """Add a dependency; a cycle is refused (409) with the path that closes it."""
    with session_scope(context.engine) as session:
        group = _visible(get_group(session, gid), user.instances)
        add_edge(
            session, group, Edge(body.upstream, body.downstream, EdgeCondition(body.condition))
        )
        audit(
            session,
            action="edge.create",
            target_kind="edge",
            target_id=f"{gid}:{body.upstream}->{body.downstream}",
            after=body,
            instance=group.instance,
        )
    return body


@router.delete("/{gid}/edges", status_code=204)
def delete_edge(
    gid: int, body: EdgeRef, context: ContextDep, user: WriterDep, audit: AuditDep
) -> Response:
    with session_scope(context.engine) as session:
        group = _visible(get_group(session, gid), user.instances)
        remove_edge(session, group, body.upstream, body.downstream)
        audit(
            session,
            action="edge.delete",
            target_kind="edge",
            target_id=f"{gid}:{body.upstream}->{body.downstream}",
            before=body,
            instance=group.instance,
        )
    return Response(status_code=204)


@router.post("/{gid}/dependencies", response_model=GroupPublic, status_code=201)
def add_dependency(
    gid: int, body: GroupDependencyBody, context: ContextDep, user: WriterDep, audit: AuditDep
) -> GroupPublic:
    """This group's runs wait for `upstream_group`'s run of the same business date."""
    with session_scope(context.engine) as session:
        group = _visible(get_group(session, gid), user.instances)
        _visible(get_group(session, body.upstream_group), user.instances)
        add_group_dependency(session, group, body.upstream_group)
        session.flush()
        audit(
            session,
            action="group_dependency.create",
            target_kind="group_dependency",
            target_id=f"{gid}<-{body.upstream_group}",
            after=body,
            instance=group.instance,
        )
        return _public(session, group)


@router.delete("/{gid}/dependencies/{upstream_gid}", status_code=204)
def remove_dependency(
    gid: int, upstream_gid: int, context: ContextDep, user: WriterDep, audit: AuditDep
) -> Response:
    with session_scope(context.engine) as session:
        group = _visible(get_group(session, gid), user.instances)
        row = session.exec(
            select(GroupDependency).where(
                GroupDependency.group_id == gid, GroupDependency.upstream_group_id == upstream_gid
            )
        ).first()
        if row is None:
            raise NotFound("group dependency", f"{gid} -> {upstream_gid}")
        audit(
            session,
            action="group_dependency.delete",
            target_kind="group_dependency",
            target_id=f"{gid}<-{upstream_gid}",
            before={"upstream_group": upstream_gid},
            instance=group.instance,
        )
        session.delete(row)
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
        group = _visible(get_group(session, gid), user.instances)
        return forecast_public(session, gid, group.schedule, start, count)


@router.post("/{gid}/run", response_model=GroupRunPublic, status_code=201)
def force_group_run(
    gid: int, context: ContextDep, user: OperatorDep, audit: AuditDep
) -> GroupRunPublic:
    """Start a group run now: every task gets its run, the DAG releases them."""
    with session_scope(context.engine) as session:
        group = _visible(get_group(session, gid), user.instances)
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


@router.get("/{gid}/graph", response_model=GraphPublic)
def graph(
    gid: int, context: ContextDep, user: UserDep, group_run: int | None = None
) -> GraphPublic:
    """Nodes with their status in a group run (the latest by default), edges, generations."""
    with session_scope(context.engine) as session:
        group = _visible(get_group(session, gid), user.instances)
        members = member_ids(session, gid)
        edges = group_edges(session, gid)
        names = task_names(session, members)
        chosen = _group_run(session, gid, group_run)
        runs = (
            {}
            if chosen is None
            else {
                r.task_id: r
                for r in session.exec(select(Run).where(Run.group_run_id == chosen.id)).all()
            }
        )
    layers = generations(members, edges)
    depth = {tid: index for index, layer in enumerate(layers) for tid in layer}
    nodes = [
        GraphNode(
            tid=tid,
            name=names.get(tid, str(tid)),
            generation=depth[tid],
            status=runs[tid].status if tid in runs else None,
            run=runs[tid].id if tid in runs else None,
            attempt=runs[tid].attempt if tid in runs else None,
            reason=runs[tid].reason if tid in runs else None,
        )
        for tid in members
    ]
    return GraphPublic(
        group=group.id or 0,
        group_run=chosen.id if chosen else None,
        group_run_status=chosen.status if chosen else None,
        nodes=nodes,
        edges=[
            GraphEdge(upstream=e.upstream, downstream=e.downstream, condition=e.condition.value)
            for e in edges
        ],
        generations=layers,
    )


def _group_run(session: Session, gid: int, group_run: int | None) -> GroupRun | None:
    if group_run is not None:
        row = session.get(GroupRun, group_run)
        if row is None or row.group_id != gid:
            raise NotFound("group run", group_run)
        return row
    return session.exec(
        select(GroupRun)
        .where(GroupRun.group_id == gid, GroupRun.status != GroupRunStatus.IDLE.value)
        .order_by(col(GroupRun.id).desc())
    ).first()


@router.get("/{gid}/freezes", response_model=list[FreezePublic])
def list_group_freezes(gid: int, context: ContextDep, user: UserDep) -> list[FreezePublic]:
    with session_scope(context.engine) as session:
        _visible(get_group(session, gid), user.instances)
        return [freeze_public(r) for r in list_freezes_of(session, group_id=gid)]


@router.post("/{gid}/freezes", response_model=FreezePublic, status_code=201)
def freeze_group(
    gid: int, body: FreezeCreate, context: ContextDep, user: OperatorDep, audit: AuditDep
) -> FreezePublic:
    """Freeze the group for one business date: that day's group run and task runs skip."""
    with session_scope(context.engine) as session:
        group = _visible(get_group(session, gid), user.instances)
        public = freeze_public(
            add_freeze(
                session,
                body.date,
                reason=body.reason,
                who=user.username,
                now=context.clock.now(),
                group_id=gid,
            )
        )
        audit(
            session,
            action="group.freeze",
            target_kind="group",
            target_id=gid,
            after=public,
            instance=group.instance,
        )
    return public


@router.delete("/{gid}/freezes/{day}", status_code=204)
def unfreeze_group(
    gid: int, day: date, context: ContextDep, user: OperatorDep, audit: AuditDep
) -> Response:
    with session_scope(context.engine) as session:
        group = _visible(get_group(session, gid), user.instances)
        row = remove_freeze(session, day, group_id=gid)
        audit(
            session,
            action="group.unfreeze",
            target_kind="group",
            target_id=gid,
            before=freeze_public(row),
            instance=group.instance,
        )
    return Response(status_code=204)
