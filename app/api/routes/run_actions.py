"""Operator actions on one run: why it waits, force past upstreams, re-run, mark SUCCESS
(app/services/run_controls.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from app.api.deps import ActorDep, ContextDep, OperatorDep, UserDep
from app.db.engine import session_scope
from app.models.group_schemas import MarkSuccess
from app.models.param_schemas import RerunRequest
from app.models.schemas import RunPublic
from app.services import run_controls, runs

router = APIRouter(prefix="/runs", tags=["runs"])


@router.get("/{run_id}/why", response_model=list[dict[str, Any]])
def why(run_id: int, context: ContextDep, user: UserDep, actor: ActorDep) -> list[dict[str, Any]]:
    """Every blocker of an IDLE or ACTIVE run (empty for any other status)."""
    with session_scope(context.engine) as session:
        return runs.waits_for(
            session, actor=actor, run_id=run_id, hub=context.hub, now=context.clock.now()
        )


@router.post("/{run_id}/force", response_model=RunPublic)
def force(run_id: int, context: ContextDep, user: OperatorDep, actor: ActorDep) -> RunPublic:
    """Start this run of a group run now, ignoring its upstreams."""
    return run_controls.force(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        run_id=run_id,
    )


@router.post("/{run_id}/rerun", response_model=list[int])
def rerun(
    run_id: int,
    context: ContextDep,
    user: OperatorDep,
    actor: ActorDep,
    body: Annotated[RerunRequest | None, Body()] = None,
) -> list[int]:
    """Run this finished run again, with everything downstream of it in its group run; it
    keeps its business date and parameter values unless the body gives new `params`."""
    return run_controls.rerun(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        run_id=run_id,
        params=body.params if body is not None else None,
    )


@router.post("/{run_id}/mark-success", response_model=list[int])
def mark_run_success(
    run_id: int, body: MarkSuccess, context: ContextDep, user: OperatorDep, actor: ActorDep
) -> list[int]:
    """Mark a FAILED run SUCCESS by hand (who and why are recorded); its downstream runs."""
    return run_controls.mark_run_success(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        run_id=run_id,
        reason=body.reason,
    )
