"""/group-runs: group runs with their task runs; terminate a whole group run."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Query
from sqlmodel import col, select

from app.api.deps import AuditDep, ContextDep, OperatorDep, UserDep
from app.api.routes.groups import group_run_public
from app.context import AppContext
from app.db.engine import session_scope
from app.db.tables import GroupRun, Run
from app.domain.roles import can_see_instance
from app.errors import NotFound
from app.models.group_schemas import GroupRunDetail, GroupRunPublic
from app.protocol.frames import Control
from app.scheduler.operator import terminate_group_run
from app.services.runs_view import run_public

router = APIRouter(prefix="/group-runs", tags=["groups"])


def _visible(context: AppContext, group_run_id: int, instances: list[str]) -> GroupRun:
    with session_scope(context.engine) as session:
        row = session.get(GroupRun, group_run_id)
    if row is None or not can_see_instance(instances, row.instance):
        raise NotFound("group run", group_run_id)
    return row


@router.get("", response_model=list[GroupRunPublic])
def list_group_runs(
    context: ContextDep,
    user: UserDep,
    group: int | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[GroupRunPublic]:
    stmt = select(GroupRun).order_by(col(GroupRun.id).desc())
    if group is not None:
        stmt = stmt.where(GroupRun.group_id == group)
    if "*" not in user.instances:
        stmt = stmt.where(col(GroupRun.instance).in_(user.instances))
    with session_scope(context.engine) as session:
        rows = session.exec(stmt.offset((page - 1) * page_size).limit(page_size)).all()
    return [group_run_public(r) for r in rows]


@router.get("/{group_run_id}", response_model=GroupRunDetail)
def read_group_run(group_run_id: int, context: ContextDep, user: UserDep) -> GroupRunDetail:
    group_run = _visible(context, group_run_id, user.instances)
    with session_scope(context.engine) as session:
        runs = session.exec(
            select(Run).where(Run.group_run_id == group_run_id).order_by(col(Run.id))
        ).all()
    return GroupRunDetail(
        **group_run_public(group_run).model_dump(), runs=[run_public(r) for r in runs]
    )


@router.post("/{group_run_id}/terminate", response_model=GroupRunPublic)
async def terminate(
    group_run_id: int, context: ContextDep, user: OperatorDep, audit: AuditDep
) -> GroupRunPublic:
    before = group_run_public(
        await anyio.to_thread.run_sync(_visible, context, group_run_id, user.instances)
    )

    def work() -> tuple[GroupRunPublic, list[tuple[str, int, int]]]:
        with session_scope(context.engine) as session:
            to_kill = terminate_group_run(
                session, group_run_id, who=user.username, now=context.clock.now()
            )
            row = session.get(GroupRun, group_run_id)
            assert row is not None
            audit(
                session,
                action="group_run.terminate",
                target_kind="group_run",
                target_id=group_run_id,
                before=before,
                after=group_run_public(row),
                instance=row.instance,
            )
            return group_run_public(row), to_kill

    public, to_kill = await anyio.to_thread.run_sync(work)
    for agent, run_id, attempt in to_kill:  # through the server holding the agent, if not here
        await context.controls.tell(agent, Control(type="kill", run_id=run_id, attempt=attempt))
    return public
