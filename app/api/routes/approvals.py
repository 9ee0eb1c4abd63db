"""/runs/{id}/approve and /reject: an operator's decision on a run a `user` submitted.

The decision, who made it and the comment go on the run's timeline and in the audit log.
"""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import AuditDep, ContextDep, OperatorDep, ScopeDep
from app.api.runs_view import run_public
from app.api.schemas import RunPublic
from app.api.security_schemas import Decision
from app.db.engine import session_scope
from app.db.runs import get_run, transition
from app.domain.states import RunStatus
from app.errors import Conflict

router = APIRouter(prefix="/runs", tags=["runs"])


def _decide(run_id: int, body: Decision | None, context: ContextDep, who: str,
            scope: ScopeDep, audit: AuditDep, approve: bool) -> RunPublic:
    comment = body.comment.strip() if body else ""
    verb = "approved" if approve else "rejected"
    detail = f"{verb} by {who}" + (f": {comment}" if comment else "")
    with session_scope(context.engine) as session:
        run = get_run(session, run_id, lock=True)
        scope.check(run.instance, "run", run_id)
        if run.status != RunStatus.PENDING_APPROVAL.value:
            raise Conflict(f"run {run_id} is {run.status}: only a PENDING_APPROVAL run can be "
                           f"{verb}")
        before = run_public(run)
        if approve:
            transition(session, run, RunStatus.ACTIVE, at=context.clock.now(), detail=detail)
        else:
            transition(session, run, RunStatus.REJECTED, at=context.clock.now(), detail=detail,
                       reason=detail)
        public = run_public(run)
        audit(session, action="run.approve" if approve else "run.reject", target_kind="run",
              target_id=run_id, before=before, after=public, instance=run.instance,
              detail=comment)
    if approve:
        context.scheduler.wake_dispatch()
    return public


@router.post("/{run_id}/approve", response_model=RunPublic)
def approve(run_id: int, context: ContextDep, user: OperatorDep, scope: ScopeDep,
            audit: AuditDep, body: Decision | None = None) -> RunPublic:
    """Let a PENDING_APPROVAL run go: it becomes ACTIVE and is dispatched."""
    return _decide(run_id, body, context, user.username, scope, audit, approve=True)


@router.post("/{run_id}/reject", response_model=RunPublic)
def reject(run_id: int, context: ContextDep, user: OperatorDep, scope: ScopeDep,
           audit: AuditDep, body: Decision | None = None) -> RunPublic:
    """Refuse a PENDING_APPROVAL run: it ends REJECTED, with the comment as its reason."""
    return _decide(run_id, body, context, user.username, scope, audit, approve=False)
