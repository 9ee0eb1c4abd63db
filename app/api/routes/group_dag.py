"""/groups/{gid}: the DAG inside a group (edges), the groups it waits for (dependencies) and
the graph drawn from them with a group run's statuses."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import ActorDep, ContextDep, UserDep, WriterDep
from app.db.engine import session_scope
from app.models.group_schemas import (
    EdgeBody,
    EdgeRef,
    GraphPublic,
    GroupDependencyBody,
    GroupPublic,
)
from app.services import group_dag

router = APIRouter(prefix="/groups", tags=["groups"])


@router.get("/{gid}/edges", response_model=list[EdgeBody])
def list_edges(gid: int, context: ContextDep, user: UserDep, actor: ActorDep) -> list[EdgeBody]:
    with session_scope(context.engine) as session:
        return group_dag.list_edges(session, actor=actor, gid=gid)


@router.post("/{gid}/edges", response_model=EdgeBody, status_code=201)
def create_edge(
    gid: int, body: EdgeBody, context: ContextDep, user: WriterDep, actor: ActorDep
) -> EdgeBody:
    """Add a dependency; a cycle is refused (409) with the path that closes it."""
    return group_dag.create_edge(
        context.engine, actor=actor, now=context.clock.now(), gid=gid, body=body
    )


@router.delete("/{gid}/edges", status_code=204)
def delete_edge(
    gid: int, body: EdgeRef, context: ContextDep, user: WriterDep, actor: ActorDep
) -> Response:
    group_dag.delete_edge(context.engine, actor=actor, now=context.clock.now(), gid=gid, body=body)
    return Response(status_code=204)


@router.post("/{gid}/dependencies", response_model=GroupPublic, status_code=201)
def add_dependency(
    gid: int, body: GroupDependencyBody, context: ContextDep, user: WriterDep, actor: ActorDep
) -> GroupPublic:
    """This group's runs wait for `upstream_group`'s run of the same business date."""
    return group_dag.add_dependency(
        context.engine, actor=actor, now=context.clock.now(), gid=gid, body=body
    )


@router.delete("/{gid}/dependencies/{upstream_gid}", status_code=204)
def remove_dependency(
    gid: int, upstream_gid: int, context: ContextDep, user: WriterDep, actor: ActorDep
) -> Response:
    group_dag.remove_dependency(
        context.engine, actor=actor, now=context.clock.now(), gid=gid, upstream_gid=upstream_gid
    )
    return Response(status_code=204)


@router.get("/{gid}/graph", response_model=GraphPublic)
def graph(
    gid: int, context: ContextDep, user: UserDep, actor: ActorDep, group_run: int | None = None
) -> GraphPublic:
    """Nodes with their status in a group run (the latest by default), edges, generations."""
    with session_scope(context.engine) as session:
        return group_dag.group_graph(session, actor=actor, gid=gid, group_run=group_run)
