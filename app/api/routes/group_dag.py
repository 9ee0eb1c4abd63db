"""/groups/{gid}: the DAG inside a group (edges), the groups it waits for (dependencies) and
the graph drawn from them with a group run's statuses."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlmodel import Session, col, select

from app.api.deps import AuditDep, ContextDep, UserDep, WriterDep
from app.api.routes.groups import group_public, visible_group
from app.db.engine import session_scope
from app.db.groups import (
    add_edge,
    add_group_dependency,
    get_group,
    group_edges,
    member_ids,
    remove_edge,
    task_names,
)
from app.db.tables import GroupDependency, GroupRun, Run
from app.domain.dag import Edge, EdgeCondition, generations
from app.domain.group_run_states import GroupRunStatus
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

router = APIRouter(prefix="/groups", tags=["groups"])


@router.get("/{gid}/edges", response_model=list[EdgeBody])
def list_edges(gid: int, context: ContextDep, user: UserDep) -> list[EdgeBody]:
    with session_scope(context.engine) as session:
        visible_group(get_group(session, gid), user.instances)
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
        group = visible_group(get_group(session, gid), user.instances)
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
        group = visible_group(get_group(session, gid), user.instances)
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
        group = visible_group(get_group(session, gid), user.instances)
        visible_group(get_group(session, body.upstream_group), user.instances)
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
        return group_public(session, group)


@router.delete("/{gid}/dependencies/{upstream_gid}", status_code=204)
def remove_dependency(
    gid: int, upstream_gid: int, context: ContextDep, user: WriterDep, audit: AuditDep
) -> Response:
    with session_scope(context.engine) as session:
        group = visible_group(get_group(session, gid), user.instances)
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


@router.get("/{gid}/graph", response_model=GraphPublic)
def graph(
    gid: int, context: ContextDep, user: UserDep, group_run: int | None = None
) -> GraphPublic:
    """Nodes with their status in a group run (the latest by default), edges, generations."""
    with session_scope(context.engine) as session:
        group = visible_group(get_group(session, gid), user.instances)
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
        .where(GroupRun.group_id == gid, GroupRun.status != GroupRunStatus.IDLE)
        .order_by(col(GroupRun.id).desc())
    ).first()
