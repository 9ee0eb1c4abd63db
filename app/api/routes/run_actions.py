"""Operator actions on one run: why it waits, force past upstreams, re-run, mark SUCCESS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import AuditDep, ContextDep, OperatorDep, UserDep
from app.context import AppContext
from app.db.engine import session_scope
from app.db.runs import get_run
from app.db.tables import Run
from app.domain.roles import can_see_instance
from app.errors import NotFound
from app.models.group_schemas import MarkSuccess
from app.models.schemas import RunPublic
from app.scheduler.operator import force_past_upstreams, mark_success, rerun_with_downstream
from app.services.policy_gate import enforce
from app.services.runs_view import run_public, why_not_running

router = APIRouter(prefix="/runs", tags=["runs"])


def _within_policy(session: Any, role: str, runs: list[Run]) -> None:
    """A run started again meets its instance's and target agent's policies as they are now,
    not only as they were when it was first made (admins may ask past them)."""
    for run in runs:
        enforce(session, role, run.spec, run.instance, [str(run.spec.get("target") or "")])


def _run(context: AppContext, session: Any, run_id: int, instances: list[str]) -> Run:
    run = get_run(session, run_id, lock=True)
    if not can_see_instance(instances, run.instance):
        raise NotFound("run", run_id)
    return run


@router.get("/{run_id}/why", response_model=list[dict[str, Any]])
def why(run_id: int, context: ContextDep, user: UserDep) -> list[dict[str, Any]]:
    """Every blocker of an IDLE or ACTIVE run (empty for any other status)."""
    with session_scope(context.engine) as session:
        run = _run(context, session, run_id, user.instances)
    return why_not_running(context, run)


@router.post("/{run_id}/force", response_model=RunPublic)
def force(run_id: int, context: ContextDep, user: OperatorDep, audit: AuditDep) -> RunPublic:
    """Start this run of a group run now, ignoring its upstreams."""
    with session_scope(context.engine) as session:
        run = _run(context, session, run_id, user.instances)
        before = run_public(run)
        _within_policy(session, user.role, [run])
        force_past_upstreams(session, run, who=user.username, now=context.clock.now())
        public = run_public(run)
        audit(
            session,
            action="run.force",
            target_kind="run",
            target_id=run_id,
            before=before,
            after=public,
            instance=run.instance,
        )
    context.scheduler.wake_dispatch()
    return public


@router.post("/{run_id}/rerun", response_model=list[int])
def rerun(run_id: int, context: ContextDep, user: OperatorDep, audit: AuditDep) -> list[int]:
    """Run this finished run again, with everything downstream of it in its group run."""
    with session_scope(context.engine) as session:
        run = _run(context, session, run_id, user.instances)
        before = run_public(run)
        restarted = rerun_with_downstream(session, run, who=user.username, now=context.clock.now())
        # Each run going again, as the policies are now (a refusal undoes the whole re-run).
        _within_policy(session, user.role, [get_run(session, rid) for rid in restarted])
        audit(
            session,
            action="run.rerun",
            target_kind="run",
            target_id=run_id,
            before=before,
            after={"restarted": restarted},
            instance=run.instance,
        )
    context.scheduler.wake_dispatch()
    return restarted


@router.post("/{run_id}/mark-success", response_model=list[int])
def mark_run_success(
    run_id: int, body: MarkSuccess, context: ContextDep, user: OperatorDep, audit: AuditDep
) -> list[int]:
    """Mark a FAILED run SUCCESS by hand (who and why are recorded); its downstream runs."""
    with session_scope(context.engine) as session:
        run = _run(context, session, run_id, user.instances)
        before = run_public(run)
        released = mark_success(
            session, run, who=user.username, why=body.reason, now=context.clock.now()
        )
        audit(
            session,
            action="run.mark_success",
            target_kind="run",
            target_id=run_id,
            before=before,
            after=run_public(run),
            instance=run.instance,
            detail=body.reason,
        )
    context.scheduler.wake_dispatch()
    return released
