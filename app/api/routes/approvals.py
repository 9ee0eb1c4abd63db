"""/runs/{id}/approve and /reject: an operator's decision on a run a `user` submitted
(app/services/approvals.py)."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ActorDep, ContextDep, OperatorDep
from app.models.schemas import RunPublic
from app.models.security_schemas import Approval, Decision
from app.services import approvals

router = APIRouter(prefix="/runs", tags=["runs"])


@router.post("/{run_id}/approve", response_model=RunPublic)
def approve(
    run_id: int,
    context: ContextDep,
    user: OperatorDep,
    actor: ActorDep,
    body: Approval | None = None,
) -> RunPublic:
    """Let a PENDING_APPROVAL run go: it becomes ACTIVE and is dispatched. With
    `spec_digest`, only if the run's spec is still that one (409 otherwise)."""
    return approvals.decide(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        run_id=run_id,
        body=body,
        approve=True,
    )


@router.post("/{run_id}/reject", response_model=RunPublic)
def reject(
    run_id: int,
    context: ContextDep,
    user: OperatorDep,
    actor: ActorDep,
    body: Decision | None = None,
) -> RunPublic:
    """Refuse a PENDING_APPROVAL run: it ends REJECTED, with the comment as its reason."""
    return approvals.decide(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        run_id=run_id,
        body=body,
        approve=False,
    )
