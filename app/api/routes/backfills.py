"""/tasks/{tid}/backfill, /groups/{gid}/backfill and /backfills: plan, start, watch and
control backfills (app/services/backfills.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import ActorDep, ContextDep, OperatorDep, UserDep, WriterDep
from app.db.engine import session_scope
from app.models.backfill_schemas import BackfillCreate, BackfillDecision, BackfillPublic
from app.services import backfill_controls, backfills
from app.services.backfill_controls import Action

router = APIRouter(tags=["backfills"])


def _start(
    context: ContextDep,
    actor: ActorDep,
    body: BackfillCreate,
    *,
    task_id: int | None = None,
    group_id: int | None = None,
) -> BackfillPublic:
    return backfills.start_backfill(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        body=body,
        confirm_over=context.settings.backfill_confirm_dates,
        task_id=task_id,
        group_id=group_id,
    )


@router.post("/tasks/{tid}/backfill", response_model=BackfillPublic)
def backfill_task(
    tid: int, body: BackfillCreate, context: ContextDep, user: UserDep, actor: ActorDep
) -> BackfillPublic:
    """Plan the task's dates over `start`..`end`; unless `dry_run`, start them (a `user`'s
    backfill waits for an operator's approval). Viewers may only dry-run."""
    return _start(context, actor, body, task_id=tid)


@router.post("/groups/{gid}/backfill", response_model=BackfillPublic)
def backfill_group(
    gid: int, body: BackfillCreate, context: ContextDep, user: UserDep, actor: ActorDep
) -> BackfillPublic:
    """As for a task: one group run per date, the group's DAG and upstream groups of the
    same business date respected."""
    return _start(context, actor, body, group_id=gid)


@router.get("/backfills", response_model=list[BackfillPublic])
def list_backfills(
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    task: int | None = None,
    group: int | None = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[BackfillPublic]:
    with session_scope(context.engine) as session:
        return backfills.list_backfills(
            session,
            actor=actor,
            task=task,
            group=group,
            status=status,
            page=page,
            page_size=page_size,
        )


@router.get("/backfills/{backfill_id}", response_model=BackfillPublic)
def read_backfill(
    backfill_id: int, context: ContextDep, user: UserDep, actor: ActorDep
) -> BackfillPublic:
    """The plan and its progress: dates pending, running, done, cancelled."""
    with session_scope(context.engine) as session:
        return backfills.read_backfill(session, actor=actor, backfill_id=backfill_id)


def _control(
    context: ContextDep, actor: ActorDep, backfill_id: int, action: Action, comment: str = ""
) -> BackfillPublic:
    return backfill_controls.control(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        backfill_id=backfill_id,
        action=action,
        comment=comment,
    )


@router.post("/backfills/{backfill_id}/pause", response_model=BackfillPublic)
def pause(
    backfill_id: int, context: ContextDep, user: WriterDep, actor: ActorDep
) -> BackfillPublic:
    """No further date starts; runs already started go on."""
    return _control(context, actor, backfill_id, "pause")


@router.post("/backfills/{backfill_id}/resume", response_model=BackfillPublic)
def resume(
    backfill_id: int, context: ContextDep, user: WriterDep, actor: ActorDep
) -> BackfillPublic:
    return _control(context, actor, backfill_id, "resume")


@router.post("/backfills/{backfill_id}/cancel", response_model=BackfillPublic)
def cancel(
    backfill_id: int, context: ContextDep, user: WriterDep, actor: ActorDep
) -> BackfillPublic:
    """Dates not started never start; queued runs end TERMINATED; runs on agents finish."""
    return _control(context, actor, backfill_id, "cancel")


@router.post("/backfills/{backfill_id}/approve", response_model=BackfillPublic)
def approve(
    backfill_id: int,
    context: ContextDep,
    user: OperatorDep,
    actor: ActorDep,
    body: BackfillDecision | None = None,
) -> BackfillPublic:
    """Let a `user`'s backfill start."""
    return _control(context, actor, backfill_id, "approve", body.comment if body else "")


@router.post("/backfills/{backfill_id}/reject", response_model=BackfillPublic)
def reject(
    backfill_id: int,
    context: ContextDep,
    user: OperatorDep,
    actor: ActorDep,
    body: BackfillDecision | None = None,
) -> BackfillPublic:
    return _control(context, actor, backfill_id, "reject", body.comment if body else "")
