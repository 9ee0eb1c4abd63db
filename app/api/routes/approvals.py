"""/runs/{id}/approve and /reject: an operator's decision on a run a `user` submitted.

The decision, who made it and the comment go on the run's timeline and in the audit log,
with the whole spec that will run (secret values masked). An approval is of that exact spec:
given `spec_digest` must be the run's (409 otherwise), and the approved digest goes into
the spec's bookkeeping so dispatch runs nothing else (app/scheduler/dispatch.py).
"""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import AuditDep, ContextDep, OperatorDep, ScopeDep
from app.db.engine import session_scope
from app.db.runs import get_run, transition
from app.db.tables import Run, User
from app.domain import run_spec
from app.domain.states import RunStatus
from app.errors import Conflict
from app.models.schemas import RunPublic
from app.models.security_schemas import Approval, Decision
from app.services.env_view import audited_run
from app.services.policy_gate import enforce
from app.services.runs_view import run_public

router = APIRouter(prefix="/runs", tags=["runs"])


def _check_digest(run: Run, wanted: str | None) -> str:
    current = run_spec.digest(run.spec)
    submitted = run.spec_digest
    if submitted and len(submitted) == 64 and submitted != current:
        raise Conflict(
            f"run {run.id}: its spec changed after it was submitted; it cannot be approved"
        )
    if wanted is not None and wanted != current:
        raise Conflict(
            f"spec_digest: run {run.id}'s spec is {current}, not {wanted}: review the run again"
        )
    return current


def _decide(
    run_id: int,
    body: Decision | None,
    context: ContextDep,
    user: User,
    scope: ScopeDep,
    audit: AuditDep,
    approve: bool,
) -> RunPublic:
    who = user.username
    comment = body.comment.strip() if body else ""
    verb = "approved" if approve else "rejected"
    detail = f"{verb} by {who}" + (f": {comment}" if comment else "")
    with session_scope(context.engine) as session:
        run = get_run(session, run_id, lock=True)
        scope.check(run.instance, "run", run_id)
        if run.status != RunStatus.PENDING_APPROVAL.value:
            raise Conflict(
                f"run {run_id} is {run.status}: only a PENDING_APPROVAL run can be {verb}"
            )
        before = audited_run(session, run)
        if approve:
            wanted = body.spec_digest if isinstance(body, Approval) else None
            digest = _check_digest(run, wanted)
            # The policies as they are now: one tightened since the submission holds too.
            enforce(session, user.role, run.spec, run.instance, [str(run.spec.get("target") or "")])
            transition(
                session,
                run,
                RunStatus.ACTIVE,
                at=context.clock.now(),
                detail=detail,
                spec={**run.spec, run_spec.APPROVED: digest},
            )
        else:
            transition(
                session,
                run,
                RunStatus.REJECTED,
                at=context.clock.now(),
                detail=detail,
                reason=detail,
            )
        public = run_public(run)
        audit(
            session,
            action="run.approve" if approve else "run.reject",
            target_kind="run",
            target_id=run_id,
            before=before,
            after=audited_run(session, run),
            instance=run.instance,
            detail=comment,
        )
    if approve:
        context.scheduler.wake_dispatch()
    return public


@router.post("/{run_id}/approve", response_model=RunPublic)
def approve(
    run_id: int,
    context: ContextDep,
    user: OperatorDep,
    scope: ScopeDep,
    audit: AuditDep,
    body: Approval | None = None,
) -> RunPublic:
    """Let a PENDING_APPROVAL run go: it becomes ACTIVE and is dispatched. With
    `spec_digest`, only if the run's spec is still that one (409 otherwise)."""
    return _decide(run_id, body, context, user, scope, audit, approve=True)


@router.post("/{run_id}/reject", response_model=RunPublic)
def reject(
    run_id: int,
    context: ContextDep,
    user: OperatorDep,
    scope: ScopeDep,
    audit: AuditDep,
    body: Decision | None = None,
) -> RunPublic:
    """Refuse a PENDING_APPROVAL run: it ends REJECTED, with the comment as its reason."""
    return _decide(run_id, body, context, user, scope, audit, approve=False)
