"""/groups: definitions and membership, forecasts, forced group runs (edges, dependencies and
the graph are in group_dag.py, freezes in group_freezes.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from app.api.deps import ActorDep, ContextDep, OperatorDep, UserDep, WriterDep
from app.db.engine import session_scope
from app.models.group_schemas import GroupCreate, GroupPublic, GroupRunPublic, GroupUpdate
from app.models.param_schemas import RunRequest
from app.models.schemas import ForecastPublic
from app.services import groups
from app.services.schedule_views import forecast_start

router = APIRouter(prefix="/groups", tags=["groups"])


@router.get("", response_model=list[GroupPublic])
def list_groups(
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    active: bool | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[GroupPublic]:
    with session_scope(context.engine) as session:
        return groups.list_groups(
            session, actor=actor, q=q, active=active, page=page, page_size=page_size
        )


@router.post("", response_model=GroupPublic, status_code=201)
def create(body: GroupCreate, context: ContextDep, user: WriterDep, actor: ActorDep) -> GroupPublic:
    return groups.create_group(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        body=body,
    )


@router.get("/{gid}", response_model=GroupPublic)
def read(gid: int, context: ContextDep, user: UserDep, actor: ActorDep) -> GroupPublic:
    with session_scope(context.engine) as session:
        return groups.read_group(session, actor=actor, gid=gid)


@router.patch("/{gid}", response_model=GroupPublic)
def patch(
    gid: int, body: GroupUpdate, context: ContextDep, user: WriterDep, actor: ActorDep
) -> GroupPublic:
    """A move (`instance`) takes the group's tasks, planned runs and alert rules along; the
    new instance must be granted, and the change is audited in both instances."""
    return groups.update_group(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        gid=gid,
        body=body,
    )


@router.delete("/{gid}", status_code=204)
def remove(gid: int, context: ContextDep, user: WriterDep, actor: ActorDep) -> Response:
    groups.delete_group(context.engine, actor=actor, now=context.clock.now(), gid=gid)
    return Response(status_code=204)


@router.get("/{gid}/forecast", response_model=ForecastPublic)
def group_forecast(
    gid: int,
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    count: Annotated[int, Query(ge=1, le=10_000)] = 10,
    after: datetime | None = None,
) -> ForecastPublic:
    start = forecast_start(after, context.clock.now())
    with session_scope(context.engine) as session:
        return groups.group_forecast(session, actor=actor, gid=gid, start=start, count=count)


@router.post("/{gid}/run", response_model=GroupRunPublic, status_code=201)
def force_group_run(
    gid: int,
    context: ContextDep,
    user: OperatorDep,
    actor: ActorDep,
    body: Annotated[RunRequest | None, Body()] = None,
) -> GroupRunPublic:
    """Start a group run now, optionally for a business date with parameter values: every
    task gets its run, the DAG releases them."""
    return groups.force_group_run(
        context.engine, actor=actor, now=context.clock.now(), gid=gid, request=body
    )
