"""The DAG inside a group (edges), the groups it waits for (dependencies) and the graph drawn
from them with a group run's statuses; every edit audited, a cycle refused with its path."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.engine import session_scope
from app.db.groups import (
    add_edge,
    add_group_dependency,
    group_edges,
    member_ids,
    remove_edge,
    task_names,
)
from app.db.tables import GroupDependency, GroupRun, Run
from app.domain.dag import Edge, EdgeCondition, generations
from app.domain.group_run_states import GroupRunStatus
from app.domain.roles import Role
from app.errors import NotFound
from app.models.group_schemas import (
    EdgeBody,
    EdgeRef,
    GraphEdge,
    GraphNode,
    GraphPublic,
    GroupDependencyBody,
    GroupPublic,
)
from app.scheduler.planner import planned_skip
from app.services.actor import Actor
from app.services.groups import group_public, visible_group


def list_edges(session: Session, *, actor: Actor, gid: int) -> list[EdgeBody]:
    visible_group(session, actor.scope, gid)
    return [
        EdgeBody(upstream=e.upstream, downstream=e.downstream, condition=e.condition.value)
        for e in group_edges(session, gid)
    ]


def create_edge(
    engine: Engine, *, actor: Actor, now: datetime, gid: int, body: EdgeBody
) -> EdgeBody:
    """Add a dependency; a cycle is refused (Conflict) with the path that closes it."""
    actor.require(Role.USER)
    with session_scope(engine) as session:
        group = visible_group(session, actor.scope, gid)
        add_edge(
            session, group, Edge(body.upstream, body.downstream, EdgeCondition(body.condition))
        )
        actor.audit(
            session,
            at=now,
            action="edge.create",
            target_kind="edge",
            target_id=f"{gid}:{body.upstream}->{body.downstream}",
            after=body,
            instance=group.instance,
        )
    return body


def delete_edge(engine: Engine, *, actor: Actor, now: datetime, gid: int, body: EdgeRef) -> None:
    actor.require(Role.USER)
    with session_scope(engine) as session:
        group = visible_group(session, actor.scope, gid)
        remove_edge(session, group, body.upstream, body.downstream)
        actor.audit(
            session,
            at=now,
            action="edge.delete",
            target_kind="edge",
            target_id=f"{gid}:{body.upstream}->{body.downstream}",
            before=body,
            instance=group.instance,
        )


def add_dependency(
    engine: Engine, *, actor: Actor, now: datetime, gid: int, body: GroupDependencyBody
) -> GroupPublic:
    """This group's runs wait for `upstream_group`'s run of the same business date."""
    actor.require(Role.USER)
    with session_scope(engine) as session:
        group = visible_group(session, actor.scope, gid)
        visible_group(session, actor.scope, body.upstream_group)
        add_group_dependency(session, group, body.upstream_group)
        session.flush()
        actor.audit(
            session,
            at=now,
            action="group_dependency.create",
            target_kind="group_dependency",
            target_id=f"{gid}<-{body.upstream_group}",
            after=body,
            instance=group.instance,
        )
        return group_public(session, group)


def remove_dependency(
    engine: Engine, *, actor: Actor, now: datetime, gid: int, upstream_gid: int
) -> None:
    actor.require(Role.USER)
    with session_scope(engine) as session:
        group = visible_group(session, actor.scope, gid)
        row = session.exec(
            select(GroupDependency).where(
                GroupDependency.group_id == gid, GroupDependency.upstream_group_id == upstream_gid
            )
        ).first()
        if row is None:
            raise NotFound("group dependency", f"{gid} -> {upstream_gid}")
        actor.audit(
            session,
            at=now,
            action="group_dependency.delete",
            target_kind="group_dependency",
            target_id=f"{gid}<-{upstream_gid}",
            before={"upstream_group": upstream_gid},
            instance=group.instance,
        )
        session.delete(row)


def group_graph(
    session: Session, *, actor: Actor, gid: int, group_run: int | None = None
) -> GraphPublic:
    """Nodes with their status in a group run (the latest by default), edges, generations."""
    group = visible_group(session, actor.scope, gid)
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
        .where(
            GroupRun.group_id == gid,
            GroupRun.status != GroupRunStatus.IDLE.value,
            # A skip planning recorded has no task runs to show.
            col(GroupRun.reason).is_(None) | ~planned_skip(col(GroupRun.reason)),
        )
        .order_by(col(GroupRun.id).desc())
    ).first()
