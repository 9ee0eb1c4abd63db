"""/group-runs: group runs with their task runs; terminate a whole group run."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Query

from app.api.deps import ActorDep, ContextDep, OperatorDep, UserDep
from app.db.engine import session_scope
from app.models.group_schemas import GroupRunDetail, GroupRunPublic
from app.protocol.frames import Control
from app.services import group_runs

router = APIRouter(prefix="/group-runs", tags=["groups"])


@router.get("", response_model=list[GroupRunPublic])
def list_group_runs(
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    group: int | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[GroupRunPublic]:
    with session_scope(context.engine) as session:
        return group_runs.list_group_runs(
            session, actor=actor, group=group, page=page, page_size=page_size
        )


@router.get("/{group_run_id}", response_model=GroupRunDetail)
def read_group_run(
    group_run_id: int, context: ContextDep, user: UserDep, actor: ActorDep
) -> GroupRunDetail:
    with session_scope(context.engine) as session:
        return group_runs.read_group_run(session, actor=actor, group_run_id=group_run_id)


@router.post("/{group_run_id}/terminate", response_model=GroupRunPublic)
async def terminate(
    group_run_id: int, context: ContextDep, user: OperatorDep, actor: ActorDep
) -> GroupRunPublic:
    public, to_kill = await anyio.to_thread.run_sync(
        lambda: group_runs.terminate(
            context.engine, actor=actor, now=context.clock.now(), group_run_id=group_run_id
        )
    )
    for agent, run_id, attempt in to_kill:  # through the server holding the agent, if not here
        await context.controls.tell(agent, Control(type="kill", run_id=run_id, attempt=attempt))
    return public
